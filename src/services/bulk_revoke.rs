//! Revoking app passwords across accounts after a breach: every live one matching an
//! admin's filters (created before a time, last used from an address range, unused for some
//! days, of a domain, of a scope). A dry run counts them and names the accounts; the run
//! revokes them in batches of [`BATCH`], each its own short transaction with one audit entry
//! per account in it, then one entry for the whole action, then asks Dovecot to end the
//! accounts' live sessions.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ipnet::IpNet;

use futures_util::StreamExt;

use super::credentials::{sync_mail_server_of, By};
use super::Services;
use crate::domain::{AppPasswordId, Role, Scope, UserId};
use crate::dovecot::doveadm::SessionSync;
use crate::error::{AppError, AppResult};
use crate::store::audit::{self, Event};
use crate::store::bulk_jobs::{self, Progress};
use crate::store::bulk_revoke::{self, Candidate, SqlFilter};

/// Credentials revoked per transaction: short enough that no lock is held long.
pub const BATCH: i64 = 500;

/// What to revoke; at least one filter must be set (a bulk revocation of everything is the
/// same as a Dovecot outage, and not what this is for).
#[derive(Debug, Clone, Default)]
pub struct BulkFilter {
    pub created_before: Option<i64>,
    pub used_from: Option<IpNet>,
    pub unused_days: Option<u32>,
    pub domain: Option<String>,
    pub scope: Option<Scope>,
}

impl BulkFilter {
    pub fn is_empty(&self) -> bool {
        self.created_before.is_none()
            && self.used_from.is_none()
            && self.unused_days.is_none()
            && self.domain.is_none()
            && self.scope.is_none()
    }

    fn sql(&self, now: i64, actor: Role) -> SqlFilter {
        SqlFilter {
            // Accounts the actor may not act on are left out (a superadmin may act on all).
            users_only: !actor.may_act_on(Role::Admin),
            created_before: self.created_before,
            idle_since: self.unused_days.map(|d| now - i64::from(d) * 86_400),
            domain: self.domain.clone(),
            scope: self.scope.map(Scope::as_str),
            used: self.used_from.is_some(),
        }
    }

    fn admits(&self, c: &Candidate) -> bool {
        match self.used_from {
            None => true,
            Some(net) => c
                .last_used_ip
                .as_deref()
                .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
                .is_some_and(|ip| net.contains(&ip)),
        }
    }

    /// The filter in words, for the audit log.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(t) = self.created_before {
            parts.push(format!("created before {t} (Unix time)"));
        }
        if let Some(net) = self.used_from {
            parts.push(format!("last used from {net}"));
        }
        if let Some(d) = self.unused_days {
            parts.push(format!("unused for {d} days"));
        }
        if let Some(domain) = &self.domain {
            parts.push(format!("of @{domain}"));
        }
        if let Some(scope) = self.scope {
            parts.push(format!("scope {}", scope.as_str()));
        }
        parts.join(", ")
    }
}

/// What a dry run found or a run did: per account, how many.
#[derive(Debug, Default)]
pub struct BulkResult {
    pub total: u64,
    /// Address → count, in address order.
    pub accounts: BTreeMap<String, u64>,
    pub batches: u64,
    /// Accounts whose live sessions Dovecot could not be asked to end.
    pub not_kicked: u64,
}

impl BulkResult {
    fn progress(&self) -> Progress {
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        Progress {
            revoked: count(self.total),
            accounts: count(self.accounts.len() as u64),
            batches: count(self.batches),
        }
    }
}

/// Every matching live credential, a page at a time, to `each`.
async fn walk(
    state: &Services,
    filter: &BulkFilter,
    actor: Role,
    mut each: impl FnMut(Vec<Candidate>),
) -> AppResult<()> {
    let sql = filter.sql(state.now(), actor);
    let mut after: Option<AppPasswordId> = None;
    loop {
        let page = bulk_revoke::page(&state.db, &sql, state.now(), after, BATCH).await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = Some(last.id);
        let full = page.len() as i64 == BATCH;
        each(page.into_iter().filter(|c| filter.admits(c)).collect());
        if !full {
            return Ok(());
        }
    }
}

/// Counts what `run` would revoke for an actor of standing `actor`, and for whom; changes
/// nothing.
pub async fn dry_run(state: &Services, filter: &BulkFilter, actor: Role) -> AppResult<BulkResult> {
    if filter.is_empty() {
        return Err(AppError::Forbidden("Choose at least one filter."));
    }
    let mut result = BulkResult::default();
    walk(state, filter, actor, |page| {
        for c in page {
            result.total += 1;
            *result.accounts.entry(c.email).or_default() += 1;
        }
    })
    .await?;
    Ok(result)
}

/// Refuses a bulk revocation by a non-admin, or one without a filter.
pub(super) fn check(by: By<'_>, filter: &BulkFilter) -> AppResult<()> {
    if !by.role().is_admin() {
        return Err(AppError::Forbidden("Only admins can revoke in bulk."));
    }
    if filter.is_empty() {
        return Err(AppError::Forbidden("Choose at least one filter."));
    }
    Ok(())
}

/// What a run will revoke, in batches of at most [`BATCH`], read before the first change
/// (so that revoking does not move the pages under the walk).
pub(super) async fn batches(
    state: &Services,
    filter: &BulkFilter,
    actor: Role,
) -> AppResult<Vec<Vec<Candidate>>> {
    let mut batches: Vec<Vec<Candidate>> = Vec::new();
    walk(state, filter, actor, |page| {
        if !page.is_empty() {
            batches.push(page);
        }
    })
    .await?;
    Ok(batches)
}

/// Revokes every live app password matching `filter`, in batches, and returns when done
/// (the command line and scripts; the web page runs it as a job, `services::bulk_jobs`).
pub async fn run<'a>(
    state: &Services,
    filter: &BulkFilter,
    by: impl Into<By<'a>>,
    reason: &str,
) -> AppResult<BulkResult> {
    let by = by.into();
    check(by, filter)?;
    let batches = batches(state, filter, by.role()).await?;
    revoke_batches(state, filter, by, reason, batches, None).await
}

/// Revokes `batches`, each in its own short transaction with one audit entry per account
/// in it, then writes the entry for the whole action and asks Dovecot to end the accounts'
/// live sessions. With a `job`, its progress is written after each batch.
pub(super) async fn revoke_batches(
    state: &Services,
    filter: &BulkFilter,
    by: By<'_>,
    reason: &str,
    batches: Vec<Vec<Candidate>>,
    job: Option<i64>,
) -> AppResult<BulkResult> {
    let mut result = BulkResult::default();
    let mut touched: BTreeMap<UserId, String> = BTreeMap::new();
    for batch in batches {
        let now = state.now();
        let mut tx = state.db.begin().await?;
        let ids: Vec<AppPasswordId> = batch.iter().map(|c| c.id).collect();
        let revoked = bulk_revoke::revoke(&mut tx, &ids, by.user_id(), reason, now).await?;
        let mut per_account: BTreeMap<(UserId, String), u64> = BTreeMap::new();
        for c in &batch {
            *per_account.entry((c.user_id, c.email.clone())).or_default() += 1;
        }
        let mut entries = Vec::with_capacity(per_account.len());
        for ((user, email), n) in &per_account {
            let detail = format!("{n} revoked in a bulk revocation, reason {reason:?}");
            entries.push(by.entry(*user, Event::AllAppPasswordsRevoked, detail));
            *result.accounts.entry(email.clone()).or_default() += n;
            touched.insert(*user, email.clone());
        }
        audit::record_all(&mut *tx, &entries, now).await?;
        tx.commit().await?;
        result.total += revoked;
        result.batches += 1;
        if let Some(job) = job {
            bulk_jobs::progress(&state.db, job, result.progress(), state.now()).await?;
        }
    }
    let summary = format!(
        "bulk revocation ({}), reason {reason:?}: {} app passwords of {} accounts in {} batches",
        filter.describe(),
        result.total,
        result.accounts.len(),
        result.batches
    );
    let entry = by.entry_about_none(Event::BulkRevocation, summary);
    audit::record(&state.db.pool, entry, state.now()).await?;
    end_sessions(state, touched.into_values().collect(), job, &mut result).await?;
    Ok(result)
}

/// Asks Dovecot to end the live sessions of each account, [`KICKS_AT_ONCE`] at a time.
/// Without doveadm there is nothing to ask (and nothing to read from the database).
async fn end_sessions(
    state: &Services,
    emails: Vec<String>,
    job: Option<i64>,
    result: &mut BulkResult,
) -> AppResult<()> {
    let Some(doveadm) = state.doveadm.clone() else {
        return Ok(());
    };
    let mut kicks = futures_util::stream::iter(emails)
        .map(move |email| {
            let doveadm = doveadm.clone();
            async move { sync_mail_server_of(Some(&doveadm), &email, true).await }
        })
        .buffer_unordered(KICKS_AT_ONCE);
    let mut beat = Instant::now();
    while let Some(sync) = kicks.next().await {
        if sync == SessionSync::Failed {
            result.not_kicked += 1;
        }
        // Ending sessions takes calls to Dovecot (seconds each when it does not answer):
        // the job shows it is alive well within `bulk_jobs::STALE_SECS`.
        if let Some(job) = job.filter(|_| beat.elapsed() >= HEARTBEAT) {
            bulk_jobs::progress(&state.db, job, result.progress(), state.now()).await?;
            beat = Instant::now();
        }
    }
    Ok(())
}

/// Calls to Dovecot's doveadm API at once while ending the sessions of many accounts: one
/// account after another, 100,000 accounts took as many sequential round trips.
const KICKS_AT_ONCE: usize = 8;

/// How often a job ending sessions writes its progress again.
const HEARTBEAT: Duration = Duration::from_secs(20);
