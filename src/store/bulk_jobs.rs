//! Bulk revocation jobs: one row per run, its progress written after each batch, so that
//! the page that follows the run can show it (`services::bulk_jobs`).

use sqlx::FromRow;

use super::Db;
use crate::domain::UserId;

/// A job's state as stored.
pub const RUNNING: &str = "running";
pub const DONE: &str = "done";
pub const FAILED: &str = "failed";
pub const INTERRUPTED: &str = "interrupted";

#[derive(Debug, Clone, FromRow)]
pub struct JobRow {
    pub id: i64,
    pub actor_user_id: Option<UserId>,
    pub filter: String,
    pub reason: String,
    pub state: String,
    pub matched: i64,
    pub revoked: i64,
    pub accounts: i64,
    pub batches: i64,
    pub not_kicked: i64,
    pub started_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
}

pub struct NewJob<'a> {
    pub actor: Option<UserId>,
    pub filter: &'a str,
    pub reason: &'a str,
    pub matched: i64,
    pub now: i64,
}

/// A new running job; returns its id.
pub async fn insert(db: &Db, job: NewJob<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO bulk_jobs (actor_user_id, filter, reason, state, matched, started_at, updated_at) \
         VALUES ($1, $2, $3, 'running', $4, $5, $5) RETURNING id",
    )
    .bind(job.actor)
    .bind(job.filter)
    .bind(job.reason)
    .bind(job.matched)
    .bind(job.now)
    .fetch_one(&db.pool)
    .await
}

/// The counts so far, after a batch.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub revoked: i64,
    pub accounts: i64,
    pub batches: i64,
}

pub async fn progress(db: &Db, id: i64, p: Progress, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE bulk_jobs SET revoked = $1, accounts = $2, batches = $3, updated_at = $4 \
         WHERE id = $5",
    )
    .bind(p.revoked)
    .bind(p.accounts)
    .bind(p.batches)
    .bind(now)
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Ends a running job in `state` ([`DONE`] or [`FAILED`]).
pub async fn finish(
    db: &Db,
    id: i64,
    state: &'static str,
    not_kicked: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE bulk_jobs SET state = $1, not_kicked = $2, updated_at = $3, finished_at = $3 \
         WHERE id = $4 AND state = 'running'",
    )
    .bind(state)
    .bind(not_kicked)
    .bind(now)
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Marks running jobs interrupted: job `only` if given, else every one whose progress was
/// last written before `stale_before`.
pub async fn interrupt_running(
    db: &Db,
    only: Option<i64>,
    stale_before: i64,
    now: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE bulk_jobs SET state = 'interrupted', finished_at = $1 \
         WHERE state = 'running' AND updated_at < $2 AND ($3 = 0 OR id = $3)",
    )
    .bind(now)
    .bind(stale_before)
    .bind(only.unwrap_or(0))
    .execute(&db.pool)
    .await?
    .rows_affected())
}

pub async fn find(db: &Db, id: i64) -> Result<Option<JobRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, actor_user_id, filter, reason, state, matched, revoked, accounts, batches, \
                not_kicked, started_at, updated_at, finished_at FROM bulk_jobs WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&db.pool)
    .await
}
