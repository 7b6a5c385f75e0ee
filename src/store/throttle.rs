//! Failed web sign-ins per typed username, shared by every instance through the database.

use super::Db;
use crate::domain::lockout::lock_after;

/// Seconds left on a lock for `username`, if it is locked now.
pub async fn locked_for(db: &Db, username: &str, now: i64) -> Result<Option<i64>, sqlx::Error> {
    let until: Option<i64> =
        sqlx::query_scalar("SELECT locked_until FROM sign_in_failures WHERE username = $1")
            .bind(username)
            .fetch_optional(&db.pool)
            .await?;
    Ok(until.filter(|&u| u > now).map(|u| u - now))
}

/// Counts one more failure and sets the lock the policy asks for.
pub async fn record_failure(db: &Db, username: &str, now: i64) -> Result<i64, sqlx::Error> {
    let failures: i64 = sqlx::query_scalar(
        "INSERT INTO sign_in_failures (username, failures, updated_at) VALUES ($1, 1, $2) \
         ON CONFLICT (username) DO UPDATE SET failures = sign_in_failures.failures + 1, updated_at = $2 \
         RETURNING failures",
    )
    .bind(username)
    .bind(now)
    .fetch_one(&db.pool)
    .await?;
    if let Some(secs) = lock_after(failures) {
        sqlx::query("UPDATE sign_in_failures SET locked_until = $1 WHERE username = $2")
            .bind(now + secs)
            .bind(username)
            .execute(&db.pool)
            .await?;
    }
    Ok(failures)
}

pub async fn clear(db: &Db, username: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sign_in_failures WHERE username = $1")
        .bind(username)
        .execute(&db.pool)
        .await?;
    Ok(())
}
