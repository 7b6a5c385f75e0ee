//! The task that sends queued notices: every second it claims the due ones, hands each to
//! the relay, and marks it sent only once the relay accepted it. A notice the relay did not
//! take is tried again after a wait that doubles from `notice_retry_base_secs` up to
//! `notice_retry_max_secs`; one refused for good (a 5xx answer), or still not sent
//! `notice_give_up_secs` after it was queued, is marked failed.
//!
//! Several instances on one PostgreSQL database each run a worker; a claim is a lease
//! (`store::notices::claim_due`), so a notice goes out once. Only a worker that dies
//! between the relay's acceptance and the mark leaves its notices to be sent again when
//! the lease ends: at least once, never lost.

use std::time::Duration;

use tokio::sync::watch;

use super::{mail, Notice};
use crate::infra::mail::Relay;
use crate::services::Services;
use crate::store::notices::{self, Claimed};

/// How often the queue is looked at.
const POLL: Duration = Duration::from_secs(1);
/// Notices claimed at once.
const BATCH: i64 = 20;
/// How long a claim holds: longer than a batch of sends can take (each is limited by
/// `infra::mail`'s time limit), so a live worker's claim never runs out under it.
const LEASE_SECS: i64 = 30 * 60;

/// Runs until `stop` turns true; a notice being sent then is finished first.
pub async fn run(state: Services, relay: Relay, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            break;
        }
        if let Err(err) = deliver_due(&state, &relay, &stop).await {
            tracing::warn!(error = %err, "could not go through the notice queue");
        }
        tokio::select! {
            changed = stop.changed() => {
                // The sender is gone (the server's task ended without a stop): stop too.
                if changed.is_err() {
                    break;
                }
            }
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Sends what is due now; returns how many were claimed.
pub async fn deliver_due(
    state: &Services,
    relay: &Relay,
    stop: &watch::Receiver<bool>,
) -> anyhow::Result<usize> {
    let now = state.now();
    let claimed = notices::claim_due(&state.db, now, now + LEASE_SECS, BATCH).await?;
    let count = claimed.len();
    for row in claimed {
        if *stop.borrow() {
            // Left claimed: tried again when its lease ends (by this instance after a
            // restart, or by another).
            break;
        }
        deliver(state, relay, row).await?;
    }
    Ok(count)
}

async fn deliver(state: &Services, relay: &Relay, row: Claimed) -> anyhow::Result<()> {
    let built = serde_json::from_str::<Notice>(&row.facts)
        .map_err(anyhow::Error::from)
        .and_then(|notice| {
            mail::message(
                &relay.from,
                &row.recipient,
                &notice,
                row.created_at,
                row.ip.as_deref(),
                &state.settings.base_url(),
            )
        });
    let message = match built {
        Ok(message) => message,
        Err(err) => {
            // A recipient address lettre cannot use, or a queue row this version cannot
            // read: retrying cannot help.
            let reason = format!("cannot be written as a mail: {err}");
            notices::mark_failed(&state.db, row.id, &reason).await?;
            return Ok(());
        }
    };
    match relay.send(message).await {
        Ok(()) => {
            notices::mark_sent(&state.db, row.id, state.now()).await?;
            tracing::info!(notice = row.id, "notice sent");
        }
        Err(not_sent) => {
            let now = state.now();
            let give_up = now - row.created_at >= state.settings.notice_give_up_secs;
            if not_sent.permanent || give_up {
                tracing::warn!(notice = row.id, reason = %not_sent.reason, "notice not sent; given up");
                notices::mark_failed(&state.db, row.id, &not_sent.reason).await?;
            } else {
                let wait = backoff(
                    row.attempts,
                    state.settings.notice_retry_base_secs,
                    state.settings.notice_retry_max_secs,
                );
                tracing::info!(notice = row.id, reason = %not_sent.reason, wait, "notice not sent; will try again");
                notices::retry_later(&state.db, row.id, now + wait, &not_sent.reason).await?;
            }
        }
    }
    Ok(())
}

/// The wait after the `attempts`-th failed try: `base`, doubling, at most `max`.
pub fn backoff(attempts: i64, base: i64, max: i64) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(30);
    base.saturating_mul(1_i64 << doublings).min(max)
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn the_wait_doubles_from_the_base_up_to_the_cap() {
        let waits: Vec<i64> = (1..=9).map(|n| backoff(n, 30, 3600)).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(backoff(1_000, 30, 3600), 3600);
    }
}
