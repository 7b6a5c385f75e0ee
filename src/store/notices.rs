//! The queue of notices by mail (`services::notices`): a row per notice, written in the
//! transaction of the change it reports, claimed by one worker at a time, then marked sent
//! or, after too long, failed.

use sqlx::{Any, Executor, FromRow};

use super::{Backend, Db};
use crate::domain::UserId;

pub struct NewNotice<'a> {
    pub user_id: UserId,
    pub recipient: &'a str,
    pub kind: &'a str,
    pub facts: &'a str,
    pub ip: Option<&'a str>,
    pub now: i64,
}

pub async fn insert<'e>(
    e: impl Executor<'e, Database = Any>,
    n: NewNotice<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO notice_queue (user_id, recipient, kind, facts, ip, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(n.user_id)
    .bind(n.recipient)
    .bind(n.kind)
    .bind(n.facts)
    .bind(n.ip)
    .bind(n.now)
    .execute(e)
    .await?;
    Ok(())
}

/// A notice a worker claimed and now tries to send.
#[derive(Debug, Clone, FromRow)]
pub struct Claimed {
    pub id: i64,
    pub recipient: String,
    pub facts: String,
    pub ip: Option<String>,
    pub created_at: i64,
    /// Tries so far, this one included.
    pub attempts: i64,
}

/// Claims up to `limit` due notices until `lease_until`, counting a try for each. A row
/// claimed by another worker is skipped until its lease ends (the worker died): on
/// PostgreSQL, `FOR UPDATE SKIP LOCKED` keeps two instances from claiming the same row at
/// once; SQLite has one writer, so the one statement is enough.
pub async fn claim_due(
    db: &Db,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let lock = match db.backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    sqlx::query_as(&format!(
        "UPDATE notice_queue SET claimed_until = $1, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM notice_queue WHERE status = 'pending' \
           AND next_attempt_at <= $2 AND claimed_until <= $2 ORDER BY id LIMIT $3{lock}) \
         RETURNING id, recipient, facts, ip, created_at, attempts"
    ))
    .bind(lease_until)
    .bind(now)
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}

/// The relay accepted the notice.
pub async fn mark_sent(db: &Db, id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notice_queue SET status = 'sent', sent_at = $2, claimed_until = 0, \
         last_error = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Not sent this time: tried again at `next_attempt_at`.
pub async fn retry_later(
    db: &Db,
    id: i64,
    next_attempt_at: i64,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notice_queue SET next_attempt_at = $2, claimed_until = 0, last_error = $3 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(next_attempt_at)
    .bind(error)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Given up: refused for good by the relay, or not sent for too long.
pub async fn mark_failed(db: &Db, id: i64, error: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notice_queue SET status = 'failed', claimed_until = 0, last_error = $2 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// A row of the queue as the admin page shows it.
#[derive(Debug, Clone, FromRow)]
pub struct QueueRow {
    pub id: i64,
    pub recipient: String,
    pub kind: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub last_error: Option<String>,
}

/// The newest notices, newest first.
pub async fn recent(db: &Db, limit: i64) -> Result<Vec<QueueRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, recipient, kind, status, attempts, next_attempt_at, created_at, sent_at, \
         last_error FROM notice_queue ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}

/// How many notices are in each status.
pub async fn counts(db: &Db) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT status, COUNT(*) FROM notice_queue GROUP BY status ORDER BY status")
        .fetch_all(&db.pool)
        .await
}
