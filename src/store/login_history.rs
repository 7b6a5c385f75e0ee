//! The login history: every IMAP login Dovecot reports (`imap_logins`), and the web
//! sign-ins of the audit log read alongside, for a user's recent logins and the admin's
//! activity chart. Times are Unix seconds; an hour is `at / 3600` on both backends.

use sqlx::{AnyConnection, FromRow};

use super::{Db, Flag};
use crate::domain::UserId;

/// One IMAP login as Dovecot reported it.
pub struct NewLogin<'a> {
    /// The typed username, lower-cased; the account it names (if any) is looked up.
    pub username: &'a str,
    /// The app password Dovecot says logged in; kept only if it is that account's.
    pub credential_id: Option<i64>,
    pub ip: &'a str,
    pub protocol: &'a str,
    pub succeeded: bool,
    pub now: i64,
}

/// Records one report in one statement (the account and the app password are resolved in
/// it), so that a flood of reports costs one write each.
pub async fn record(conn: &mut AnyConnection, login: NewLogin<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO imap_logins (at, user_id, username, credential_id, ip, protocol, succeeded) \
         VALUES ($1, (SELECT id FROM users WHERE email = $2), $2, \
                 (SELECT a.id FROM app_passwords a JOIN users u ON u.id = a.user_id \
                  WHERE a.id = $3 AND u.email = $2), $4, $5, $6)",
    )
    .bind(login.now)
    .bind(login.username)
    .bind(login.credential_id)
    .bind(login.ip)
    .bind(login.protocol)
    .bind(login.succeeded)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Rows deleted per statement when pruning: SQLite has one writer, and Dovecot's reports
/// must not wait behind one long delete.
const PRUNE_BATCH: i64 = 5_000;

/// Deletes the logins from before `cutoff`, a batch at a time; returns how many.
pub async fn prune(db: &Db, cutoff: i64) -> Result<u64, sqlx::Error> {
    let mut deleted = 0;
    loop {
        let done = sqlx::query(
            "DELETE FROM imap_logins WHERE id IN \
             (SELECT id FROM imap_logins WHERE at < $1 LIMIT $2)",
        )
        .bind(cutoff)
        .bind(PRUNE_BATCH)
        .execute(&db.pool)
        .await?
        .rows_affected();
        deleted += done;
        if done < PRUNE_BATCH as u64 {
            return Ok(deleted);
        }
    }
}

/// An IMAP login of one account, with the name of the app password used, if any.
#[derive(Debug, Clone, FromRow)]
pub struct ImapLoginRow {
    pub at: i64,
    pub ip: String,
    pub protocol: String,
    pub succeeded: Flag,
    pub credential_id: Option<i64>,
    pub credential_name: Option<String>,
}

/// The account's `limit` newest IMAP logins, newest first.
pub async fn recent_imap(
    db: &Db,
    user: UserId,
    limit: i64,
) -> Result<Vec<ImapLoginRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT l.at, l.ip, l.protocol, CASE WHEN l.succeeded THEN 1 ELSE 0 END AS succeeded, \
                l.credential_id, a.name AS credential_name \
         FROM imap_logins l LEFT JOIN app_passwords a ON a.id = l.credential_id \
         WHERE l.user_id = $1 ORDER BY l.at DESC, l.id DESC LIMIT $2",
    )
    .bind(user)
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}

/// A web sign-in (or failed one) of one account, from the audit log.
#[derive(Debug, Clone, FromRow)]
pub struct WebSignInRow {
    pub at: i64,
    pub ip: Option<String>,
    pub succeeded: Flag,
}

/// The account's `limit` newest web sign-ins and failed sign-ins, newest first.
pub async fn recent_web(
    db: &Db,
    user: UserId,
    limit: i64,
) -> Result<Vec<WebSignInRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT at, ip, CASE WHEN event = 'sign_in' THEN 1 ELSE 0 END AS succeeded \
         FROM audit_log WHERE subject_user_id = $1 AND event IN ('sign_in', 'sign_in_failed') \
         ORDER BY at DESC, id DESC LIMIT $2",
    )
    .bind(user)
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}

/// Successes and failures in one hour (`hour` is Unix time / 3600).
#[derive(Debug, Clone, Copy, FromRow, PartialEq, Eq)]
pub struct HourRow {
    pub hour: i64,
    pub successes: i64,
    pub failures: i64,
}

/// IMAP logins per hour since `since`, hours without any left out, oldest first.
pub async fn imap_per_hour(db: &Db, since: i64) -> Result<Vec<HourRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT at / 3600 AS hour, \
                SUM(CASE WHEN succeeded THEN 1 ELSE 0 END) AS successes, \
                SUM(CASE WHEN succeeded THEN 0 ELSE 1 END) AS failures \
         FROM imap_logins WHERE at >= $1 GROUP BY at / 3600 ORDER BY hour",
    )
    .bind(since)
    .fetch_all(&db.pool)
    .await
}

/// Web sign-ins per hour since `since` (from the audit log), as [`imap_per_hour`].
pub async fn web_per_hour(db: &Db, since: i64) -> Result<Vec<HourRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT at / 3600 AS hour, \
                SUM(CASE WHEN event = 'sign_in' THEN 1 ELSE 0 END) AS successes, \
                SUM(CASE WHEN event = 'sign_in' THEN 0 ELSE 1 END) AS failures \
         FROM audit_log WHERE at >= $1 AND event IN ('sign_in', 'sign_in_failed') \
         GROUP BY at / 3600 ORDER BY hour",
    )
    .bind(since)
    .fetch_all(&db.pool)
    .await
}

/// An address that failed to log in, IMAP and web together.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct FailingAddress {
    pub ip: String,
    pub failures: i64,
    pub last_at: i64,
}

/// The `limit` addresses with the most failed IMAP logins and web sign-ins since `since`.
pub async fn top_failing(
    db: &Db,
    since: i64,
    limit: i64,
) -> Result<Vec<FailingAddress>, sqlx::Error> {
    sqlx::query_as(
        "SELECT ip, COUNT(*) AS failures, MAX(at) AS last_at FROM ( \
             SELECT ip, at FROM imap_logins WHERE at >= $1 AND NOT succeeded \
             UNION ALL \
             SELECT ip, at FROM audit_log \
             WHERE at >= $1 AND event = 'sign_in_failed' AND ip IS NOT NULL \
         ) failed GROUP BY ip ORDER BY failures DESC, last_at DESC, ip LIMIT $2",
    )
    .bind(since)
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}
