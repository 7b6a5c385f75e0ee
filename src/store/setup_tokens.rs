//! One-time links that let the first admin choose a password.

use sqlx::{Any, Executor};

use super::Db;

pub async fn insert(db: &Db, token_hash: &str, expires_at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO setup_tokens (token_hash, expires_at) VALUES ($1, $2)")
        .bind(token_hash)
        .bind(expires_at)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub async fn is_usable(db: &Db, token_hash: &str, now: i64) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM setup_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&db.pool)
    .await?;
    Ok(found.is_some())
}

/// Marks the token used; false if it was already used, expired or unknown. Run inside the
/// transaction that creates the admin, so a link works exactly once.
pub async fn consume<'e>(
    e: impl Executor<'e, Database = Any>,
    token_hash: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE setup_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(token_hash)
    .execute(e)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks every unused token used: once an admin exists, no older link may make another.
pub async fn retire_all<'e>(
    e: impl Executor<'e, Database = Any>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE setup_tokens SET used_at = $1 WHERE used_at IS NULL")
        .bind(now)
        .execute(e)
        .await?;
    Ok(())
}
