//! What a check tells: the steps as they happen ([`StepEvent`]) and the whole at the end
//! ([`CheckReport`]). Everything here is safe to show, log and serialise: no field ever holds
//! the password, and server text is passed through the probe's redactor before it lands here.

use std::time::Duration;

use serde::{Serialize, Serializer};

use super::target::TlsMode;
use super::verdict::{classify, proven, Facts, KnownCredential, Proven, Verdict};

/// One stage of a check, in the order they normally run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Resolve,
    Connect,
    TlsHandshake,
    Greeting,
    Capability,
    StartTls,
    /// Only after a plaintext greeting never came: does the port answer a TLS handshake?
    TlsProbe,
    Login,
    SelectInbox,
    Logout,
}

impl Step {
    /// What the step does, in plain words, for a progress list.
    pub fn label(self) -> &'static str {
        match self {
            Self::Resolve => "Looking up the server's address",
            Self::Connect => "Connecting to the server",
            Self::TlsHandshake => "Setting up encryption (TLS) and checking the certificate",
            Self::Greeting => "Waiting for the server to say hello",
            Self::Capability => "Asking what the server supports",
            Self::StartTls => "Asking the server to switch to encryption (STARTTLS)",
            Self::TlsProbe => "Checking whether the port expects encryption from the start",
            Self::Login => "Signing in with the password",
            Self::SelectInbox => "Opening the inbox",
            Self::Logout => "Signing out",
        }
    }

    /// The noun used in "timed out while …".
    pub fn while_doing(self) -> &'static str {
        match self {
            Self::Resolve => "looking up the server's address",
            Self::Connect => "connecting",
            Self::TlsHandshake => "setting up encryption",
            Self::Greeting => "waiting for the server's greeting",
            Self::Capability => "asking what the server supports",
            Self::StartTls => "switching to encryption",
            Self::TlsProbe => "checking whether the port expects encryption",
            Self::Login => "signing in",
            Self::SelectInbox => "opening the inbox",
            Self::Logout => "signing out",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    Passed,
    Failed,
}

/// How one step went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// Position in the check, from 0; a step can run twice (CAPABILITY before and after
    /// STARTTLS), so the index, not the step, identifies a line in a progress list.
    pub index: usize,
    pub step: Step,
    pub label: &'static str,
    pub outcome: StepOutcome,
    #[serde(rename = "duration_ms", serialize_with = "millis")]
    pub duration: Duration,
    /// One or two plain sentences: what was found, or what went wrong.
    pub summary: String,
}

/// Sent as each step starts and ends, for a live progress list (server-sent events).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum StepEvent {
    Started {
        index: usize,
        step: Step,
        label: &'static str,
    },
    Finished(StepReport),
}

/// A problem found with the server's certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum CertProblem {
    /// Signed by itself and not trusted.
    SelfSigned,
    /// Not trusted for another reason (unknown authority, bad signature, revoked…).
    Untrusted {
        reason: String,
    },
    /// Past its end date; `not_after` when the leaf's own date was readable.
    Expired {
        not_after: Option<i64>,
    },
    NotYetValid {
        not_before: Option<i64>,
    },
    /// Valid, but for other names than the host we connected to.
    WrongHost {
        host: String,
        names: Vec<String>,
    },
}

/// What the server's certificate says, read without trusting it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertificateInfo {
    pub subject: String,
    pub issuer: String,
    /// DNS names and IP addresses from the subject alternative name extension.
    pub names: Vec<String>,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
    pub self_signed: bool,
}

/// The encryption that was set up, and what the certificate check found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TlsInfo {
    /// e.g. "TLS 1.3".
    pub protocol: String,
    pub cipher_suite: String,
    /// The server's own certificate, when it could be read.
    pub certificate: Option<CertificateInfo>,
    /// How many certificates the server sent (its own plus intermediates).
    pub chain_length: usize,
    /// Trusted, in date, and issued for the host we connected to.
    pub valid_for_host: bool,
    pub problems: Vec<CertProblem>,
}

/// The result of a whole check.
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    /// The configured server's name, host, port and mode.
    pub server: String,
    pub host: String,
    pub port: u16,
    pub tls_mode: TlsMode,
    pub steps: Vec<StepReport>,
    /// What the host name resolved to.
    pub addresses: Vec<String>,
    /// The address the connection was made to.
    pub connected_to: Option<String>,
    pub tls: Option<TlsInfo>,
    /// The greeting line, cleaned for display.
    pub greeting: Option<String>,
    /// The last capability list the server announced.
    pub capabilities: Vec<String>,
    /// Messages in INBOX, after a successful SELECT.
    pub messages: Option<u32>,
    #[serde(rename = "total_ms", serialize_with = "millis")]
    pub total: Duration,
    /// The observations the verdict was drawn from; kept so it can be drawn again with what
    /// the caller knows about the credential ([`CheckReport::with_known_credential`]).
    #[serde(skip)]
    pub facts: Facts,
    pub verdict: Verdict,
    /// What the check proved about the password (accepted, never sent, refused…).
    pub proven: Proven,
}

impl CheckReport {
    /// Draws the verdict again with what the database knows about the typed password (for
    /// example that it is an app password revoked yesterday).
    #[must_use]
    pub fn with_known_credential(mut self, known: &KnownCredential) -> Self {
        self.verdict = classify(&self.facts, known);
        self.proven = proven(&self.facts, &self.verdict);
        self
    }
}

fn millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_event_serialises_with_its_kind_and_milliseconds() {
        let event = StepEvent::Finished(StepReport {
            index: 1,
            step: Step::Connect,
            label: Step::Connect.label(),
            outcome: StepOutcome::Passed,
            duration: Duration::from_millis(12),
            summary: "Connected to 127.0.0.1:993.".into(),
        });
        let json = serde_json::to_value(&event).expect("serialises");
        assert_eq!(json["event"], "finished");
        assert_eq!(json["step"], "connect");
        assert_eq!(json["outcome"], "passed");
        assert_eq!(json["duration_ms"], 12);
    }

    #[test]
    fn a_started_event_carries_the_plain_label() {
        let event = StepEvent::Started {
            index: 0,
            step: Step::Resolve,
            label: Step::Resolve.label(),
        };
        let json = serde_json::to_value(&event).expect("serialises");
        assert_eq!(json["event"], "started");
        assert_eq!(json["label"], "Looking up the server's address");
    }
}
