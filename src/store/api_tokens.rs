//! Bearer tokens of the JSON API: only their digest, who made them, and their last use.

use sqlx::{Any, Executor, FromRow};

use super::{Db, Flag};
use crate::domain::UserId;

pub struct NewApiToken<'a> {
    pub name: &'a str,
    pub token_hash: &'a str,
    pub read_write: bool,
    pub created_by: UserId,
    pub now: i64,
    pub expires_at: Option<i64>,
}

pub async fn insert<'e>(
    e: impl Executor<'e, Database = Any>,
    t: NewApiToken<'_>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO api_tokens (name, token_hash, read_write, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(t.name)
    .bind(t.token_hash)
    .bind(t.read_write)
    .bind(t.created_by)
    .bind(t.now)
    .bind(t.expires_at)
    .fetch_one(e)
    .await
}

/// A token as the admin page lists it.
#[derive(Debug, Clone, FromRow)]
pub struct ApiTokenRow {
    pub id: i64,
    pub name: String,
    #[sqlx(try_from = "Flag")]
    pub read_write: bool,
    pub created_by: UserId,
    pub creator_email: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str = "t.id, t.name, CASE WHEN t.read_write THEN 1 ELSE 0 END AS read_write, \
     t.created_by, u.email AS creator_email, t.created_at, t.expires_at, t.last_used_at, \
     t.last_used_ip, t.revoked_at";

/// Every token, newest first.
pub async fn list(db: &Db) -> Result<Vec<ApiTokenRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.created_by ORDER BY t.id DESC"
    ))
    .fetch_all(&db.pool)
    .await
}

pub async fn find(db: &Db, id: i64) -> Result<Option<ApiTokenRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.created_by WHERE t.id = $1"
    ))
    .bind(id)
    .fetch_optional(&db.pool)
    .await
}

/// The token with this digest, whatever its state.
pub async fn by_digest(db: &Db, token_hash: &str) -> Result<Option<ApiTokenRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.created_by \
         WHERE t.token_hash = $1"
    ))
    .bind(token_hash)
    .fetch_optional(&db.pool)
    .await
}

/// Records a use, unless one was recorded since `not_before` (a write per request would
/// make every API call a write on SQLite).
pub async fn touch(
    db: &Db,
    id: i64,
    now: i64,
    ip: &str,
    not_before: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE api_tokens SET last_used_at = $1, last_used_ip = $2 \
         WHERE id = $3 AND (last_used_at IS NULL OR last_used_at < $4 OR last_used_ip <> $2)",
    )
    .bind(now)
    .bind(ip)
    .bind(id)
    .bind(not_before)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Revokes a live token; false if there is none with this id or it was revoked already.
pub async fn revoke<'e>(
    e: impl Executor<'e, Database = Any>,
    id: i64,
    by: Option<UserId>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(by)
    .bind(id)
    .execute(e)
    .await?;
    Ok(done.rows_affected() == 1)
}
