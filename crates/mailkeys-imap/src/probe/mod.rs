//! The live check: one real IMAP session against a configured server, step by step, each
//! step timed and bounded, the whole bounded too. See [`run_check`].
//!
//! - this module: the limits, [`run_check`] and the run that drives the steps;
//! - `network`: DNS, TCP and TLS, and what their failures mean; `session`: the IMAP steps
//!   (greeting, CAPABILITY, STARTTLS, LOGIN, SELECT, LOGOUT); `steps`: what they share;
//! - `transport`: the socket, plain or TLS, behind one type;
//! - `redaction`: every form of the password, taken out of any server text shown.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;

use super::report::{CheckReport, Step, StepEvent, StepOutcome, StepReport, TlsInfo};
use super::target::{MailServer, TlsMode};
use super::tls::{self, HandshakeFailed, Sniff, TlsSetup};
use super::verdict::{classify, Facts, Failure, KnownCredential, StepFailure};
use super::wire::{Response, Status, StatusLine, Untagged, Wire, WireError};

mod network;
mod redaction;
mod session;
mod steps;
#[cfg(test)]
mod tests;
mod transport;

use network::*;
use redaction::Needles;
pub(crate) use redaction::Redactor;
use session::*;
use steps::*;
use transport::Transport;

/// Time limits of a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The longest any one step may take.
    pub step: Duration,
    /// The longest the whole check may take; a step that would run past it is cut short.
    pub total: Duration,
}

impl Limits {
    pub fn from_secs(step: u64, total: u64) -> Self {
        Self {
            step: Duration::from_secs(step),
            total: Duration::from_secs(total),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            step: Duration::from_secs(5),
            total: Duration::from_secs(20),
        }
    }
}

/// A channel this large never fills during one check, so no event is dropped. Events are
/// sent without waiting (a slow reader must not stretch the check past its limit); with a
/// smaller channel and a slow reader, some may be lost.
pub const EVENT_CHANNEL_CAPACITY: usize = 32;

/// How many resolved addresses a check tries to connect to.
const MAX_ADDRESSES_TRIED: usize = 3;

/// Runs a real IMAP session against `server` with these credentials: DNS, TCP, TLS (as the
/// server's mode says), greeting, CAPABILITY, STARTTLS, LOGIN, SELECT INBOX, LOGOUT.
///
/// Sends a [`StepEvent`] as each step starts and ends, and always returns a report (a failed
/// check is a report with a failing verdict, not an error). The verdict assumes nothing is
/// known about the password; see [`CheckReport::with_known_credential`].
///
/// The password is sent only after the server's certificate passed verification (or, for
/// [`TlsMode::None`], over the plaintext connection the configuration asked for). It never
/// appears in the report, the events or any log: server text is scrubbed of it too.
pub async fn run_check(
    server: &MailServer,
    username: &str,
    password: &SecretString,
    limits: &Limits,
    events: mpsc::Sender<StepEvent>,
) -> CheckReport {
    let needles = Needles::new(username, password);
    let mut run = Run::new(server, &needles, *limits, events);
    let failure = run.drive(username, password).await.err();
    run.finish(failure)
}

/// Every form in which the password goes on the wire: as typed, as an escaped quoted
/// string, and inside the AUTHENTICATE PLAIN message. Zeroized when the check ends.
/// Why a step failed: the fact for the classifier and a sentence for the progress list.
pub(super) struct StepError {
    what: StepFailure,
    summary: String,
}

impl StepError {
    pub(super) fn new(what: StepFailure, summary: impl Into<String>) -> Self {
        Self {
            what,
            summary: summary.into(),
        }
    }
}

pub(super) type StepResult<T> = Result<(T, String), StepError>;

/// The state of one check in progress.
struct Run<'a> {
    server: &'a MailServer,
    limits: Limits,
    started: Instant,
    deadline: Instant,
    events: mpsc::Sender<StepEvent>,
    redact: Redactor<'a>,
    steps: Vec<StepReport>,
    addresses: Vec<String>,
    connected_to: Option<String>,
    tls: Option<TlsInfo>,
    greeting: Option<String>,
    capabilities: Vec<String>,
    messages: Option<u32>,
}

impl<'a> Run<'a> {
    pub(super) fn new(
        server: &'a MailServer,
        needles: &'a Needles,
        limits: Limits,
        events: mpsc::Sender<StepEvent>,
    ) -> Self {
        let started = Instant::now();
        Self {
            server,
            limits,
            started,
            deadline: started + limits.total,
            events,
            redact: Redactor { needles },
            steps: Vec::new(),
            addresses: Vec::new(),
            connected_to: None,
            tls: None,
            greeting: None,
            capabilities: Vec::new(),
            messages: None,
        }
    }

    pub(super) fn emit(&self, event: StepEvent) {
        // Never wait for the reader: the check's time limit comes first.
        let _ = self.events.try_send(event);
    }

    /// Runs one step under its own time limit and the check's, and records it.
    async fn step<T>(
        &mut self,
        step: Step,
        work: impl Future<Output = StepResult<T>>,
    ) -> Result<T, Failure> {
        let index = self.steps.len();
        self.emit(StepEvent::Started {
            index,
            step,
            label: step.label(),
        });
        let begun = Instant::now();
        // Sign-in alone may use the rest of the check's time: Dovecot holds back its answer
        // to addresses that failed recently (0.5 s, then 4.5 s, 8.5 s, … measured on 2.3.19),
        // and every check comes from Mailkeys' one address, so a per-step limit would turn
        // a wrong password into a "timeout".
        let step_end = if step == Step::Login {
            self.deadline
        } else {
            begun + self.limits.step
        };
        let whole_check = self.deadline <= step_end;
        let end = if whole_check { self.deadline } else { step_end };
        let result = match tokio::time::timeout_at(end, work).await {
            Ok(result) => result,
            Err(_) => Err(StepError::new(
                StepFailure::TimedOut { whole_check },
                if whole_check {
                    format!(
                        "The whole check reached its limit of {} s.",
                        self.limits.total.as_secs_f32()
                    )
                } else {
                    format!("No answer within {} s.", self.limits.step.as_secs_f32())
                },
            )),
        };
        let (outcome, summary, value) = match result {
            Ok((value, summary)) => (StepOutcome::Passed, summary, Ok(value)),
            Err(e) => (
                StepOutcome::Failed,
                e.summary,
                Err(Failure { step, what: e.what }),
            ),
        };
        let report = StepReport {
            index,
            step,
            label: step.label(),
            outcome,
            duration: begun.elapsed(),
            summary: self.redact.text(&summary),
        };
        self.emit(StepEvent::Finished(report.clone()));
        self.steps.push(report);
        value
    }

    async fn drive(&mut self, username: &str, password: &SecretString) -> Result<(), Failure> {
        let server = self.server;
        let host = server.bare_host().to_owned();
        let addresses = self
            .step(Step::Resolve, resolve(&host, server.port))
            .await?;
        self.addresses = addresses.iter().map(|a| a.ip().to_string()).collect();

        let (tcp, addr) = self
            .step(Step::Connect, connect(&addresses, self.limits.step))
            .await?;
        self.connected_to = Some(addr.to_string());

        let transport = match server.tls {
            TlsMode::Implicit => Transport::Tls(self.tls_step(tcp).await?),
            TlsMode::StartTls | TlsMode::None => Transport::Plain(tcp),
        };
        let mut wire = Wire::new(transport);

        let redact = self.redact;
        let greeting = match self.step(Step::Greeting, greet(&mut wire, redact)).await {
            Ok(greeting) => greeting,
            Err(failure) => return Err(self.after_failed_greeting(failure, addr).await),
        };
        self.greeting = Some(redact.text(&greeting_text(&greeting)));
        let mut capabilities = greeting.capabilities().unwrap_or_default();

        capabilities = self
            .step(
                Step::Capability,
                capability(&mut wire, capabilities, redact),
            )
            .await?;
        self.capabilities = capabilities.clone();

        if server.tls == TlsMode::StartTls {
            let offered = has(&capabilities, "STARTTLS");
            let (tcp, next_tag) = self
                .step(Step::StartTls, starttls(wire, offered, redact))
                .await?;
            wire = Wire::resume(Transport::Tls(self.tls_step(tcp).await?), next_tag);
            capabilities = self
                .step(Step::Capability, capability(&mut wire, Vec::new(), redact))
                .await?;
            self.capabilities = capabilities.clone();
        }

        let encrypted = wire_encrypted(&wire);
        let attempt = login(
            &mut wire,
            username,
            password,
            &capabilities,
            encrypted,
            redact,
        );
        if let Some(after_login) = self.step(Step::Login, attempt).await? {
            self.capabilities = after_login;
        }

        let messages = self
            .step(Step::SelectInbox, select_inbox(&mut wire, redact))
            .await?;
        self.messages = Some(messages);

        // A failed LOGOUT is shown but not held against the server.
        let _ = self.step(Step::Logout, logout(&mut wire, redact)).await;
        Ok(())
    }

    /// The TLS handshake step; on success the stream, with the certificate verified.
    async fn tls_step(
        &mut self,
        tcp: TcpStream,
    ) -> Result<Box<TlsStream<Sniff<TcpStream>>>, Failure> {
        let mut info = None;
        let (server, redact) = (self.server, self.redact);
        let result = self
            .step(
                Step::TlsHandshake,
                handshake(server, tcp, &mut info, redact),
            )
            .await;
        self.tls = info;
        result
    }

    /// When no greeting came on a plaintext connection, asks the port for a TLS handshake:
    /// if it answers, the configuration should say `implicit`.
    async fn after_failed_greeting(&mut self, failure: Failure, addr: SocketAddr) -> Failure {
        let timed_out = matches!(failure.what, StepFailure::TimedOut { whole_check: false });
        if !timed_out || self.server.tls == TlsMode::Implicit {
            return failure;
        }
        let server = self.server;
        match self.step(Step::TlsProbe, probe_tls(server, addr)).await {
            Ok(()) => Failure {
                step: Step::Greeting,
                what: StepFailure::SpeaksTls,
            },
            Err(_) => failure,
        }
    }

    pub(super) fn finish(self, failure: Option<Failure>) -> CheckReport {
        let facts = Facts {
            failure,
            messages: self.messages,
        };
        let verdict = classify(&facts, &KnownCredential::Unknown);
        let proven = crate::verdict::proven(&facts, &verdict);
        CheckReport {
            server: self.server.name.clone(),
            host: self.server.host.clone(),
            port: self.server.port,
            tls_mode: self.server.tls,
            steps: self.steps,
            addresses: self.addresses,
            connected_to: self.connected_to,
            tls: self.tls,
            greeting: self.greeting,
            capabilities: self.capabilities,
            messages: self.messages,
            total: self.started.elapsed(),
            facts,
            verdict,
            proven,
        }
    }
}
