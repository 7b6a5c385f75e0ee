//! Prometheus metrics: one named function per event, so a caller records with one line
//! (`state.metrics.sign_in(SignInOutcome::Refused)`). Served in the OpenMetrics text format on
//! a listener of its own (`metrics_listen`, off by default; see `web::metrics`).
//!
//! Each instance has its own registry ([`prometheus_client`] has no global recorder), so
//! several apps in one process (the tests) count separately. Labels are fixed words (an
//! outcome, a verdict id, a doveadm command name), never an address or anything typed.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// How a web sign-in ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInOutcome {
    /// The right password: a session was started.
    Success,
    /// A wrong address or password, or a disabled account.
    Refused,
    /// Refused before any hashing because the address was locked.
    Locked,
}

/// Whether a Dovecot auth-policy report carried the right secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyReport {
    Accepted,
    Refused,
}

impl SignInOutcome {
    const ALL: [Self; 3] = [Self::Success, Self::Refused, Self::Locked];

    fn label(self) -> OutcomeLabel {
        let outcome = match self {
            Self::Success => "success",
            Self::Refused => "refused",
            Self::Locked => "locked",
        };
        OutcomeLabel { outcome }
    }
}

impl PolicyReport {
    const ALL: [Self; 2] = [Self::Accepted, Self::Refused];

    fn label(self) -> OutcomeLabel {
        let outcome = match self {
            Self::Accepted => "accepted",
            Self::Refused => "refused",
        };
        OutcomeLabel { outcome }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerdictLabel {
    verdict: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabel {
    command: &'static str,
}

/// The doveadm commands Mailkeys sends, as they appear in the `command` label.
pub const DOVEADM_COMMANDS: [&str; 3] = ["list", "kick", "authCacheFlush"];

/// The series of one instance. Cheap to clone (one `Arc`).
#[derive(Clone, Debug)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    sign_ins: Family<OutcomeLabel, Counter>,
    locks: Counter,
    hash_queue_depth: Gauge,
    hash_wait: Histogram,
    connection_tests: Family<VerdictLabel, Counter>,
    doveadm_calls: Family<CommandLabel, Counter>,
    doveadm_failures: Family<CommandLabel, Counter>,
    policy_reports: Family<OutcomeLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every series, the labelled ones present at zero for each known
    /// label value (so a dashboard sees them before the first event).
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("mailkeys");
        let sign_ins = Family::<OutcomeLabel, Counter>::default();
        for outcome in SignInOutcome::ALL {
            drop(sign_ins.get_or_create(&outcome.label()));
        }
        registry.register(
            "web_sign_ins",
            "Web sign-in attempts, by outcome",
            sign_ins.clone(),
        );
        let locks = Counter::default();
        registry.register(
            "sign_in_locks",
            "Sign-in locks set (a failure that locked the typed address)",
            locks.clone(),
        );
        let hash_queue_depth = Gauge::default();
        registry.register(
            "hash_queue_depth",
            "Password hashes waiting for a hashing thread",
            hash_queue_depth.clone(),
        );
        // 100 µs to about 52 s, doubling.
        let hash_wait = Histogram::new(exponential_buckets(0.0001, 2.0, 20));
        registry.register(
            "hash_queue_wait_seconds",
            "Time a password hash waited for a hashing thread",
            hash_wait.clone(),
        );
        let connection_tests = Family::<VerdictLabel, Counter>::default();
        registry.register(
            "connection_tests",
            "Connection tests run, by verdict",
            connection_tests.clone(),
        );
        let doveadm_calls = Family::<CommandLabel, Counter>::default();
        let doveadm_failures = Family::<CommandLabel, Counter>::default();
        for command in DOVEADM_COMMANDS {
            drop(doveadm_calls.get_or_create(&CommandLabel { command }));
            drop(doveadm_failures.get_or_create(&CommandLabel { command }));
        }
        registry.register(
            "doveadm_calls",
            "Calls to the doveadm HTTP API, by command",
            doveadm_calls.clone(),
        );
        registry.register(
            "doveadm_failures",
            "Calls to the doveadm HTTP API that failed, by command",
            doveadm_failures.clone(),
        );
        let policy_reports = Family::<OutcomeLabel, Counter>::default();
        for outcome in PolicyReport::ALL {
            drop(policy_reports.get_or_create(&outcome.label()));
        }
        registry.register(
            "policy_reports",
            "Dovecot auth-policy reports received, by whether their secret was right",
            policy_reports.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                sign_ins,
                locks,
                hash_queue_depth,
                hash_wait,
                connection_tests,
                doveadm_calls,
                doveadm_failures,
                policy_reports,
            }),
        }
    }

    /// A web sign-in ended with `outcome`.
    pub fn sign_in(&self, outcome: SignInOutcome) {
        self.inner.sign_ins.get_or_create(&outcome.label()).inc();
    }

    /// A failed sign-in locked the typed address.
    pub fn lock_set(&self) {
        self.inner.locks.inc();
    }

    /// A hash joined the queue of the hashing threads.
    pub fn hash_queued(&self) {
        self.inner.hash_queue_depth.inc();
    }

    /// A hash left the queue: a thread took it after `waited`, or (`None`) it was dropped.
    pub fn hash_dequeued(&self, waited: Option<Duration>) {
        self.inner.hash_queue_depth.dec();
        if let Some(waited) = waited {
            self.inner.hash_wait.observe(waited.as_secs_f64());
        }
    }

    /// A connection test ended with the verdict whose id is `verdict` (`Verdict::kind`).
    pub fn connection_test(&self, verdict: &'static str) {
        self.inner
            .connection_tests
            .get_or_create(&VerdictLabel { verdict })
            .inc();
    }

    /// A doveadm API call of `command` (one of [`DOVEADM_COMMANDS`]) ended, well or not.
    pub fn doveadm_call(&self, command: &'static str, succeeded: bool) {
        let label = CommandLabel { command };
        self.inner.doveadm_calls.get_or_create(&label).inc();
        if !succeeded {
            self.inner.doveadm_failures.get_or_create(&label).inc();
        }
    }

    /// A Dovecot auth-policy report arrived.
    pub fn policy_report(&self, outcome: PolicyReport) {
        self.inner
            .policy_reports
            .get_or_create(&outcome.label())
            .inc();
    }

    /// Every series in the OpenMetrics text format (what Prometheus scrapes).
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.inner.registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_counts_in_its_series() {
        let metrics = Metrics::new();
        metrics.sign_in(SignInOutcome::Refused);
        metrics.sign_in(SignInOutcome::Refused);
        metrics.lock_set();
        metrics.hash_queued();
        metrics.hash_queued();
        metrics.hash_dequeued(Some(Duration::from_millis(3)));
        metrics.connection_test("wrong_password");
        metrics.doveadm_call("kick", false);
        metrics.policy_report(PolicyReport::Accepted);
        let text = metrics.render().unwrap();
        for line in [
            "mailkeys_web_sign_ins_total{outcome=\"refused\"} 2",
            "mailkeys_web_sign_ins_total{outcome=\"success\"} 0",
            "mailkeys_sign_in_locks_total 1",
            "mailkeys_hash_queue_depth 1",
            "mailkeys_hash_queue_wait_seconds_count 1",
            "mailkeys_connection_tests_total{verdict=\"wrong_password\"} 1",
            "mailkeys_doveadm_calls_total{command=\"kick\"} 1",
            "mailkeys_doveadm_failures_total{command=\"kick\"} 1",
            "mailkeys_doveadm_failures_total{command=\"list\"} 0",
            "mailkeys_policy_reports_total{outcome=\"accepted\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
