//! What this instance has seen of Dovecot: the last doveadm probe (the start-up check, shown
//! on the admin page), and, so that a flood of logins does not become a flood of writes, the
//! second in which each kind of policy report was last written to `dovecot_reports`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::RwLock;

use super::doveadm::ProbeResult;
use crate::store::dovecot_reports::ReportKind;

#[derive(Debug, Default)]
pub struct DovecotStatus {
    probe: RwLock<Option<ProbeOutcome>>,
    accepted_written: AtomicI64,
    refused_written: AtomicI64,
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

    /// True at most once per second and kind: whether a report seen `now` must be written.
    pub fn report_needs_writing(&self, kind: ReportKind, now: i64) -> bool {
        let slot = match kind {
            ReportKind::Accepted => &self.accepted_written,
            ReportKind::Refused => &self.refused_written,
        };
        slot.swap(now, Ordering::Relaxed) != now
    }
}
