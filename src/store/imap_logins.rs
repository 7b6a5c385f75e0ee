//! What Dovecot reports about IMAP logins: the last use of each app password, and failed
//! attempts per username and client address.

use sqlx::{AnyConnection, FromRow};

use super::Db;
use crate::domain::AppPasswordId;

pub struct Use<'a> {
    pub credential_id: AppPasswordId,
    pub username: &'a str,
    pub ip: &'a str,
    pub protocol: &'a str,
    pub now: i64,
}

/// Records a successful login with an app password; false if the id is not that user's.
pub async fn record_use(conn: &mut AnyConnection, u: Use<'_>) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE app_passwords SET last_used_at = $1, last_used_ip = $2, last_used_protocol = $3 \
         WHERE id = $4 AND user_id = (SELECT id FROM users WHERE email = $5)",
    )
    .bind(u.now)
    .bind(u.ip)
    .bind(u.protocol)
    .bind(u.credential_id)
    .bind(u.username)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE users SET last_activity_at = $1 WHERE email = $2 AND last_activity_at < $1",
    )
    .bind(u.now)
    .bind(u.username)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

pub async fn record_failure(
    conn: &mut AnyConnection,
    username: &str,
    ip: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO imap_login_failures (username, ip, failures, first_at, last_at) VALUES ($1, $2, 1, $3, $3) \
         ON CONFLICT (username, ip) DO UPDATE SET failures = imap_login_failures.failures + 1, last_at = $3",
    )
    .bind(username)
    .bind(ip)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct FailureRow {
    pub ip: String,
    pub failures: i64,
    pub last_at: i64,
}

/// The addresses that failed to log in as `username` most recently.
pub async fn failures_for(
    db: &Db,
    username: &str,
    limit: i64,
) -> Result<Vec<FailureRow>, sqlx::Error> {
    sqlx::query_as("SELECT ip, failures, last_at FROM imap_login_failures WHERE username = $1 ORDER BY last_at DESC LIMIT $2")
        .bind(username)
        .bind(limit)
        .fetch_all(&db.pool)
        .await
}
