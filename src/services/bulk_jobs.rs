//! A bulk revocation from the web page runs as a job: the request counts what matches,
//! records the job and starts it in a task of its own, and the browser is sent to the job's
//! page, which shows its progress (written after each batch) until it is done.
//!
//! A job's process can stop before the job is done. A graceful stop marks this process's
//! running jobs interrupted; after a crash, a running job whose progress has not been written
//! for [`STALE_SECS`] is shown as interrupted, and start-up marks such jobs so. (Several
//! instances may share a PostgreSQL database, so start-up cannot take every running job for
//! its own.)

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use super::bulk_revoke::{self, BulkFilter};
use super::credentials::{Actor, By};
use super::Services;
use crate::domain::{Role, UserId};
use crate::error::{AppError, AppResult};
use crate::store::bulk_jobs::{self, JobRow, NewJob, DONE, FAILED, INTERRUPTED, RUNNING};

/// A running job whose progress is older than this has lost its process. Each batch is a
/// short transaction and progress is written after every one (and every 20 seconds while
/// Dovecot is asked to end sessions), so a live job never stays silent this long.
pub const STALE_SECS: i64 = 120;

/// The jobs this process is running, marked interrupted if it stops first: (instance, job
/// id), the instance being its `Services` (one per database; tests run several in one
/// process), told apart by the address of its settings.
static RUNNING_HERE: Mutex<BTreeSet<(usize, i64)>> = Mutex::new(BTreeSet::new());

fn running_here() -> std::sync::MutexGuard<'static, BTreeSet<(usize, i64)>> {
    // A panic while holding the set leaves it usable: it is a plain set of ids.
    RUNNING_HERE.lock().unwrap_or_else(PoisonError::into_inner)
}

fn instance(state: &Services) -> usize {
    Arc::as_ptr(&state.settings) as usize
}

/// Where a job stands, as shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Running,
    Done,
    Failed,
    Interrupted,
}

impl JobState {
    pub fn label(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
        }
    }

    fn of(row: &JobRow, now: i64) -> Self {
        match row.state.as_str() {
            RUNNING if row.updated_at + STALE_SECS < now => Self::Interrupted,
            RUNNING => Self::Running,
            DONE => Self::Done,
            INTERRUPTED => Self::Interrupted,
            _ => Self::Failed,
        }
    }
}

/// A job as its page shows it.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub state: JobState,
    /// The filters in words and the reason given.
    pub filter: String,
    pub reason: String,
    /// What the count before the start found; `revoked` reaches it unless a password was
    /// revoked or expired meanwhile.
    pub matched: i64,
    pub revoked: i64,
    pub accounts: i64,
    pub batches: i64,
    pub not_kicked: i64,
    pub started_at: i64,
    pub finished_at: Option<i64>,
}

impl Job {
    fn of(row: JobRow, now: i64) -> Self {
        Self {
            state: JobState::of(&row, now),
            id: row.id,
            filter: row.filter,
            reason: row.reason,
            matched: row.matched,
            revoked: row.revoked,
            accounts: row.accounts,
            batches: row.batches,
            not_kicked: row.not_kicked,
            started_at: row.started_at,
            finished_at: row.finished_at,
        }
    }

    /// Per cent revoked of what matched (100 once there is nothing to do).
    pub fn percent(&self) -> i64 {
        if self.matched <= 0 {
            100
        } else {
            (self.revoked * 100 / self.matched).clamp(0, 100)
        }
    }
}

/// Counts what `filter` matches for `actor`, records the job and starts it; returns its id.
/// The batches are those `bulk_revoke::run` does; only the waiting moves off the request.
pub async fn start(
    state: &Services,
    filter: BulkFilter,
    actor: &Actor<'_>,
    reason: String,
) -> AppResult<i64> {
    bulk_revoke::check(By::Person(actor), &filter)?;
    let batches = bulk_revoke::batches(state, &filter, actor.role).await?;
    let matched: usize = batches.iter().map(Vec::len).sum();
    let described = filter.describe();
    let id = bulk_jobs::insert(
        &state.db,
        NewJob {
            actor: Some(actor.user_id),
            filter: &described,
            reason: &reason,
            matched: i64::try_from(matched).unwrap_or(i64::MAX),
            now: state.now(),
        },
    )
    .await?;
    let key = (instance(state), id);
    running_here().insert(key);
    let owned = OwnedActor {
        user_id: actor.user_id,
        role: actor.role,
        ip: actor.ip.to_owned(),
        via_token: actor.via_token.map(str::to_owned),
    };
    let state = state.clone();
    tokio::spawn(async move {
        let actor = Actor {
            user_id: owned.user_id,
            role: owned.role,
            ip: &owned.ip,
            via_token: owned.via_token.as_deref(),
        };
        let done = bulk_revoke::revoke_batches(
            &state,
            &filter,
            By::Person(&actor),
            &reason,
            batches,
            Some(id),
        )
        .await;
        let (end, not_kicked) = match done {
            Ok(result) => (DONE, i64::try_from(result.not_kicked).unwrap_or(i64::MAX)),
            Err(err) => {
                tracing::warn!(job = id, error = %err, "a bulk revocation stopped on an error");
                (FAILED, 0)
            }
        };
        if let Err(err) = bulk_jobs::finish(&state.db, id, end, not_kicked, state.now()).await {
            tracing::warn!(job = id, error = %err, "could not record the end of a bulk revocation");
        }
        running_here().remove(&key);
    });
    Ok(id)
}

/// The actor of a job, kept by its task.
struct OwnedActor {
    user_id: UserId,
    role: Role,
    ip: String,
    via_token: Option<String>,
}

/// The job `id`, for its page.
pub async fn find(state: &Services, id: i64) -> AppResult<Job> {
    let row = bulk_jobs::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Job::of(row, state.now()))
}

/// At start-up: running jobs whose progress is stale lost their process; say so.
pub async fn interrupt_stale(state: &Services) -> AppResult<u64> {
    Ok(
        bulk_jobs::interrupt_running(&state.db, None, state.now() - STALE_SECS, state.now())
            .await?,
    )
}

/// At a graceful stop: this process's running jobs are interrupted with it.
pub async fn interrupt_own(state: &Services) -> AppResult<u64> {
    let me = instance(state);
    let ids: Vec<i64> = running_here()
        .iter()
        .filter(|(of, _)| *of == me)
        .map(|(_, id)| *id)
        .collect();
    let mut interrupted = 0;
    for id in ids {
        interrupted +=
            bulk_jobs::interrupt_running(&state.db, Some(id), i64::MAX, state.now()).await?;
    }
    Ok(interrupted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(state: &str, updated_at: i64, matched: i64, revoked: i64) -> JobRow {
        JobRow {
            id: 1,
            actor_user_id: None,
            filter: String::new(),
            reason: String::new(),
            state: state.into(),
            matched,
            revoked,
            accounts: 0,
            batches: 0,
            not_kicked: 0,
            started_at: 0,
            updated_at,
            finished_at: None,
        }
    }

    #[test]
    fn a_running_job_without_progress_for_long_is_interrupted() {
        let now = 10_000;
        assert_eq!(
            JobState::of(&row(RUNNING, now - 5, 0, 0), now),
            JobState::Running
        );
        assert_eq!(
            JobState::of(&row(RUNNING, now - STALE_SECS - 1, 0, 0), now),
            JobState::Interrupted
        );
        assert_eq!(JobState::of(&row(DONE, 0, 0, 0), now), JobState::Done);
        assert_eq!(JobState::of(&row(FAILED, 0, 0, 0), now), JobState::Failed);
    }

    #[test]
    fn percent_is_of_what_matched() {
        assert_eq!(Job::of(row(RUNNING, 0, 1000, 500), 0).percent(), 50);
        assert_eq!(Job::of(row(DONE, 0, 0, 0), 0).percent(), 100);
        assert_eq!(Job::of(row(DONE, 0, 3, 4), 0).percent(), 100);
    }
}
