//! App passwords. Revoked rows are kept (with when, by whom and why) for the audit trail.

use sqlx::{Any, Executor, FromRow};

use super::Db;
use crate::domain::{AppPasswordId, UserId};

#[derive(Debug, Clone, FromRow)]
pub struct AppPasswordRow {
    pub id: AppPasswordId,
    pub name: String,
    pub lookup_id: String,
    pub scope: String,
    pub allowed_nets: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    pub last_used_protocol: Option<String>,
    pub revoked_at: Option<i64>,
    pub revoked_reason: Option<String>,
}

const COLUMNS: &str = "id, name, lookup_id, scope, allowed_nets, created_at, expires_at, \
     last_used_at, last_used_ip, last_used_protocol, revoked_at, revoked_reason";

pub struct NewAppPassword<'a> {
    pub user_id: UserId,
    pub name: &'a str,
    pub lookup_id: &'a str,
    pub password_hash: &'a str,
    pub scope: &'a str,
    pub allowed_nets: Option<&'a str>,
    pub now: i64,
    pub expires_at: Option<i64>,
}

pub async fn insert<'e>(
    e: impl Executor<'e, Database = Any>,
    new: NewAppPassword<'_>,
) -> Result<AppPasswordId, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO app_passwords (user_id, name, lookup_id, password_hash, scope, allowed_nets, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(new.user_id)
    .bind(new.name)
    .bind(new.lookup_id)
    .bind(new.password_hash)
    .bind(new.scope)
    .bind(new.allowed_nets)
    .bind(new.now)
    .bind(new.expires_at)
    .fetch_one(e)
    .await
}

/// All of a user's app passwords, live first, newest first.
pub async fn list_for_user(db: &Db, user_id: UserId) -> Result<Vec<AppPasswordRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM app_passwords WHERE user_id = $1 \
         ORDER BY (CASE WHEN revoked_at IS NULL THEN 0 ELSE 1 END), created_at DESC, id DESC"
    ))
    .bind(user_id)
    .fetch_all(&db.pool)
    .await
}

/// One app password, only if it belongs to `user_id`.
pub async fn find_for_user(
    db: &Db,
    user_id: UserId,
    id: AppPasswordId,
) -> Result<Option<AppPasswordRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM app_passwords WHERE user_id = $1 AND id = $2"
    ))
    .bind(user_id)
    .bind(id)
    .fetch_optional(&db.pool)
    .await
}

pub async fn name_in_use(db: &Db, user_id: UserId, name: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM app_passwords WHERE user_id = $1 AND name = $2 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .bind(name)
    .fetch_optional(&db.pool)
    .await?;
    Ok(found.is_some())
}

pub struct Revocation<'a> {
    pub user_id: UserId,
    /// The person who revoked it; none for the operator at the command line.
    pub by: Option<UserId>,
    pub reason: &'a str,
    pub now: i64,
}

/// Revokes one live app password of the user; false if there was none to revoke.
pub async fn revoke<'e>(
    e: impl Executor<'e, Database = Any>,
    id: AppPasswordId,
    r: &Revocation<'_>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE app_passwords SET revoked_at = $1, revoked_by = $2, revoked_reason = $3 \
         WHERE id = $4 AND user_id = $5 AND revoked_at IS NULL",
    )
    .bind(r.now)
    .bind(r.by)
    .bind(r.reason)
    .bind(id)
    .bind(r.user_id)
    .execute(e)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every live app password of the user in one statement; returns how many.
pub async fn revoke_all<'e>(
    e: impl Executor<'e, Database = Any>,
    r: &Revocation<'_>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE app_passwords SET revoked_at = $1, revoked_by = $2, revoked_reason = $3 \
         WHERE user_id = $4 AND revoked_at IS NULL",
    )
    .bind(r.now)
    .bind(r.by)
    .bind(r.reason)
    .bind(r.user_id)
    .execute(e)
    .await?;
    Ok(done.rows_affected())
}

/// The user's app password with this lookup id, live or not (lookup ids are never reused).
pub async fn find_by_lookup(
    db: &Db,
    user_id: UserId,
    lookup_id: &str,
) -> Result<Option<AppPasswordRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM app_passwords WHERE user_id = $1 AND lookup_id = $2"
    ))
    .bind(user_id)
    .bind(lookup_id)
    .fetch_optional(&db.pool)
    .await
}

/// Changes what a live app password may be used for and from where; false if there was no
/// such live password of the user.
pub async fn update_limits<'e>(
    e: impl Executor<'e, Database = Any>,
    user_id: UserId,
    id: AppPasswordId,
    scope: &str,
    allowed_nets: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE app_passwords SET scope = $1, allowed_nets = $2 WHERE id = $3 AND user_id = $4 AND revoked_at IS NULL",
    )
    .bind(scope)
    .bind(allowed_nets)
    .bind(id)
    .bind(user_id)
    .execute(e)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Renames a live app password of the user; false if there was no such live password. A
/// name another live password of the user has is refused by the unique index
/// (`app_passwords_active_name`), as on insert.
pub async fn rename<'e>(
    e: impl Executor<'e, Database = Any>,
    user_id: UserId,
    id: AppPasswordId,
    name: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE app_passwords SET name = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
    )
    .bind(name)
    .bind(id)
    .bind(user_id)
    .execute(e)
    .await?;
    Ok(done.rows_affected() == 1)
}
