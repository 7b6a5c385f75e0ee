//! What this instance has seen of Dovecot, for the admin page and the self-check: the last
//! doveadm probe (start-up check) and the last policy reports, accepted or refused for a
//! wrong secret. In memory, per instance.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::RwLock;

use super::doveadm::ProbeResult;

#[derive(Debug, Default)]
pub struct DovecotStatus {
    probe: RwLock<Option<ProbeOutcome>>,
    last_report_at: AtomicI64,
    last_refused_report_at: AtomicI64,
}

/// The result of the last doveadm probe, with the time it was made (Unix seconds).
#[derive(Clone, Debug)]
pub struct ProbeOutcome {
    pub at: i64,
    pub result: Result<ProbeResult, String>,
}

impl DovecotStatus {
    pub fn record_probe(&self, at: i64, result: Result<ProbeResult, String>) {
        if let Ok(mut slot) = self.probe.write() {
            *slot = Some(ProbeOutcome { at, result });
        }
    }

    pub fn last_probe(&self) -> Option<ProbeOutcome> {
        self.probe.read().ok().and_then(|p| p.clone())
    }

    pub fn record_report(&self, at: i64) {
        self.last_report_at.store(at, Ordering::Relaxed);
    }

    /// A report that came with a wrong or missing secret header.
    pub fn record_refused_report(&self, at: i64) {
        self.last_refused_report_at.store(at, Ordering::Relaxed);
    }

    pub fn last_report_at(&self) -> Option<i64> {
        non_zero(self.last_report_at.load(Ordering::Relaxed))
    }

    pub fn last_refused_report_at(&self) -> Option<i64> {
        non_zero(self.last_refused_report_at.load(Ordering::Relaxed))
    }
}

fn non_zero(at: i64) -> Option<i64> {
    (at != 0).then_some(at)
}
