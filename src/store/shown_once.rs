//! New app passwords waiting for their one showing (see migration 0008): sealed, bound to
//! a browser session, gone within minutes. Each statement that hands the sealed text out
//! also marks or removes the row in the same statement, so two requests racing for it
//! cannot both get it.

use sqlx::{Any, Executor};

use super::Db;
use crate::domain::AppPasswordId;

pub struct Held<'a> {
    pub session_hash: &'a str,
    pub app_password_id: AppPasswordId,
    pub sealed: &'a str,
    pub now: i64,
    pub expires_at: i64,
}

pub async fn insert<'e>(
    e: impl Executor<'e, Database = Any>,
    held: Held<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO shown_once (session_hash, app_password_id, sealed, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(held.session_hash)
    .bind(held.app_password_id)
    .bind(held.sealed)
    .bind(held.now)
    .bind(held.expires_at)
    .execute(e)
    .await?;
    Ok(())
}

/// The sealed text for the show-once page, the first time only: the row is marked viewed.
pub async fn take_for_page(
    db: &Db,
    session_hash: &str,
    id: AppPasswordId,
    now: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE shown_once SET viewed_at = $3 \
         WHERE session_hash = $1 AND app_password_id = $2 AND viewed_at IS NULL AND expires_at > $3 \
         RETURNING sealed",
    )
    .bind(session_hash)
    .bind(id)
    .bind(now)
    .fetch_optional(&db.pool)
    .await
}

/// The sealed text for the profile download, once, and only after the page showed it:
/// the row is removed.
pub async fn take_for_profile(
    db: &Db,
    session_hash: &str,
    id: AppPasswordId,
    now: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "DELETE FROM shown_once \
         WHERE session_hash = $1 AND app_password_id = $2 AND viewed_at IS NOT NULL AND expires_at > $3 \
         RETURNING sealed",
    )
    .bind(session_hash)
    .bind(id)
    .bind(now)
    .fetch_optional(&db.pool)
    .await
}

/// Removes every expired row; how many.
pub async fn purge_expired<'e>(
    e: impl Executor<'e, Database = Any>,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM shown_once WHERE expires_at <= $1")
        .bind(now)
        .execute(e)
        .await?;
    Ok(done.rows_affected())
}
