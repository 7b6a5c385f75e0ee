//! Invitation links (their token's digest), each for one address, used once.

use sqlx::{Any, Executor, FromRow};

use super::{Db, Flag};
use crate::domain::UserId;

pub struct NewInvitation<'a> {
    pub token_hash: &'a str,
    pub email: &'a str,
    pub is_admin: bool,
    pub created_by: Option<UserId>,
    pub now: i64,
    pub expires_at: i64,
}

pub async fn insert<'e>(
    e: impl Executor<'e, Database = Any>,
    i: NewInvitation<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO invitations (token_hash, email, is_admin, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(i.token_hash)
    .bind(i.email)
    .bind(i.is_admin)
    .bind(i.created_by)
    .bind(i.now)
    .bind(i.expires_at)
    .execute(e)
    .await?;
    Ok(())
}

/// Marks the unused invitations of `email` used: a new one replaces them.
pub async fn retire_for<'e>(
    e: impl Executor<'e, Database = Any>,
    email: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE invitations SET used_at = $1 WHERE email = $2 AND used_at IS NULL")
        .bind(now)
        .bind(email)
        .execute(e)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct Invitation {
    pub email: String,
    #[sqlx(try_from = "Flag")]
    pub is_admin: bool,
}

/// The invitation with this digest while it can still be used.
pub async fn usable(
    db: &Db,
    token_hash: &str,
    now: i64,
) -> Result<Option<Invitation>, sqlx::Error> {
    sqlx::query_as(
        "SELECT email, CASE WHEN is_admin THEN 1 ELSE 0 END AS is_admin FROM invitations \
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&db.pool)
    .await
}

/// Uses the invitation up, inside the transaction that creates the account; false if it
/// was used meanwhile or expired.
pub async fn consume<'e>(
    e: impl Executor<'e, Database = Any>,
    token_hash: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE invitations SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(token_hash)
    .execute(e)
    .await?;
    Ok(done.rows_affected() == 1)
}
