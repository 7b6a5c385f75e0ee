//! The live check: one real IMAP session against a configured server, step by step, each
//! step timed and bounded, the whole bounded too. See [`run_check`].

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
struct Needles(Vec<Zeroizing<String>>);

impl Needles {
    fn new(username: &str, password: &SecretString) -> Self {
        use base64::Engine as _;
        let raw = password.expose_secret();
        let mut needles = Vec::new();
        if !raw.is_empty() {
            needles.push(Zeroizing::new(raw.to_owned()));
            let escaped = Zeroizing::new(raw.replace('\\', "\\\\").replace('"', "\\\""));
            if escaped.as_str() != raw {
                needles.push(escaped);
            }
            let plain = Zeroizing::new(format!("\0{username}\0{raw}"));
            needles.push(Zeroizing::new(
                base64::engine::general_purpose::STANDARD.encode(plain.as_bytes()),
            ));
        }
        Self(needles)
    }
}

/// Server text made fit to show: the password taken out wherever it appears (a broken
/// server might echo a command), control characters escaped, length bounded.
#[derive(Clone, Copy)]
pub(crate) struct Redactor<'a> {
    needles: &'a Needles,
}

const SHOWN_TEXT_MAX: usize = 300;
const HIDDEN: &str = "[password hidden]";

impl Redactor<'_> {
    pub fn text(&self, raw: &str) -> String {
        let mut text = raw.to_owned();
        for needle in &self.needles.0 {
            if text.contains(needle.as_str()) {
                text = text.replace(needle.as_str(), HIDDEN);
            }
        }
        if text.chars().any(char::is_control) {
            text = text
                .chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect();
        }
        if text.chars().count() > SHOWN_TEXT_MAX {
            text = text.chars().take(SHOWN_TEXT_MAX).collect::<String>() + "…";
        }
        text
    }

    /// Raw bytes (a binary greeting) as printable text with `\xNN` escapes.
    pub fn bytes(&self, raw: &[u8]) -> String {
        let shown: String = raw
            .iter()
            .take(48)
            .map(|&b| {
                if (0x20..0x7f).contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("\\x{b:02x}")
                }
            })
            .collect();
        self.text(&shown)
    }
}

/// Plaintext TCP, or TLS over it.
enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<Sniff<TcpStream>>>),
}

impl Transport {
    fn is_encrypted(&self) -> bool {
        matches!(self, Self::Tls(_))
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Why a step failed: the fact for the classifier and a sentence for the progress list.
struct StepError {
    what: StepFailure,
    summary: String,
}

impl StepError {
    fn new(what: StepFailure, summary: impl Into<String>) -> Self {
        Self {
            what,
            summary: summary.into(),
        }
    }
}

type StepResult<T> = Result<(T, String), StepError>;

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
    fn new(
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

    fn emit(&self, event: StepEvent) {
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

    fn finish(self, failure: Option<Failure>) -> CheckReport {
        let facts = Facts {
            failure,
            messages: self.messages,
        };
        let verdict = classify(&facts, &KnownCredential::Unknown);
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
        }
    }
}

fn wire_encrypted(wire: &Wire<Transport>) -> bool {
    wire.stream_ref().is_encrypted()
}

fn has(capabilities: &[String], wanted: &str) -> bool {
    capabilities.iter().any(|c| c.eq_ignore_ascii_case(wanted))
}

fn mechanisms(capabilities: &[String]) -> Vec<String> {
    capabilities
        .iter()
        .filter_map(|c| {
            c.get(..5)
                .filter(|p| p.eq_ignore_ascii_case("AUTH="))
                .map(|_| c[5..].to_ascii_uppercase())
        })
        .collect()
}

fn greeting_text(s: &StatusLine) -> String {
    let word = match s.status {
        Status::Ok => "OK",
        Status::No => "NO",
        Status::Bad => "BAD",
        Status::Bye => "BYE",
        Status::Preauth => "PREAUTH",
    };
    match &s.code {
        Some(code) => format!("* {word} [{code}] {}", s.text),
        None => format!("* {word} {}", s.text),
    }
}

/// The error of a command that failed at the wire level, as the step's failure.
fn wire_failure(err: WireError, redact: Redactor<'_>) -> StepError {
    match err {
        WireError::Closed => {
            StepError::new(StepFailure::Closed, "The server closed the connection.")
        }
        WireError::Bye(s) => {
            let text = redact.text(&s.text);
            StepError::new(
                StepFailure::Bye {
                    code: s.code.as_deref().map(|c| redact.text(c)),
                    text: text.clone(),
                },
                format!("The server ended the session: {text}"),
            )
        }
        WireError::Protocol(detail) => {
            let detail = redact.text(&detail);
            StepError::new(
                StepFailure::Protocol {
                    detail: detail.clone(),
                },
                format!("The server's answer made no sense: {detail}."),
            )
        }
        WireError::Io(e) => {
            let detail = e.to_string();
            StepError::new(
                StepFailure::Io {
                    detail: detail.clone(),
                },
                format!("The connection broke: {detail}."),
            )
        }
        WireError::Unsendable => StepError::new(
            StepFailure::PasswordNotSendable,
            "The user name or password holds a NUL character, which IMAP cannot carry.",
        ),
    }
}

/// A tagged NO or BAD as the step's failure.
fn refused(done: &StatusLine, redact: Redactor<'_>, what: &str) -> StepError {
    let code = done.code.as_deref().map(|c| redact.text(c));
    let text = redact.text(&done.text);
    let word = if done.status == Status::Bad {
        "BAD"
    } else {
        "NO"
    };
    let shown_code = code
        .as_deref()
        .map(|c| format!("[{c}] "))
        .unwrap_or_default();
    StepError::new(
        StepFailure::Refused {
            bad: done.status == Status::Bad,
            code,
            text: text.clone(),
        },
        format!("{what}: {word} {shown_code}{text}"),
    )
}

async fn resolve(host: &str, port: u16) -> StepResult<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok((
            vec![SocketAddr::new(ip, port)],
            format!("{host} is an IP address; nothing to look up."),
        ));
    }
    match tokio::net::lookup_host((host, port)).await {
        Ok(found) => {
            let mut addresses: Vec<SocketAddr> = Vec::new();
            for a in found {
                if !addresses.contains(&a) {
                    addresses.push(a);
                }
            }
            if addresses.is_empty() {
                return Err(StepError::new(
                    StepFailure::HostNotFound,
                    format!("{host} has no address."),
                ));
            }
            let list: Vec<String> = addresses.iter().map(|a| a.ip().to_string()).collect();
            Ok((addresses, format!("{host} is at {}.", list.join(", "))))
        }
        Err(e) => {
            let detail = e.to_string();
            let lower = detail.to_ascii_lowercase();
            if lower.contains("temporary failure") || lower.contains("try again") {
                Err(StepError::new(
                    StepFailure::DnsTemporary {
                        detail: detail.clone(),
                    },
                    format!("The address lookup for {host} failed for now: {detail}."),
                ))
            } else {
                Err(StepError::new(
                    StepFailure::HostNotFound,
                    format!("{host} was not found: {detail}."),
                ))
            }
        }
    }
}

async fn connect(
    addresses: &[SocketAddr],
    step_limit: Duration,
) -> StepResult<(TcpStream, SocketAddr)> {
    let tried: Vec<SocketAddr> = addresses
        .iter()
        .copied()
        .take(MAX_ADDRESSES_TRIED)
        .collect();
    let count = u32::try_from(tried.len()).unwrap_or(1).max(1);
    let per_address = step_limit / count;
    let mut refused = Vec::new();
    let mut other = Vec::new();
    for addr in &tried {
        match tokio::time::timeout(per_address, TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => {
                let _ = tcp.set_nodelay(true);
                return Ok(((tcp, *addr), format!("Connected to {addr}.")));
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => refused.push(*addr),
            Ok(Err(e)) => other.push(format!("{addr}: {e}")),
            Err(_) => other.push(format!("{addr}: no answer")),
        }
    }
    if other.is_empty() {
        let list: Vec<String> = refused.iter().map(ToString::to_string).collect();
        Err(StepError::new(
            StepFailure::ConnectionRefused,
            format!("Connection refused by {}.", list.join(", ")),
        ))
    } else {
        let detail = other.join("; ");
        Err(StepError::new(
            StepFailure::Unreachable {
                detail: detail.clone(),
            },
            format!("Could not connect: {detail}."),
        ))
    }
}

async fn handshake(
    server: &MailServer,
    tcp: TcpStream,
    info: &mut Option<TlsInfo>,
    redact: Redactor<'_>,
) -> StepResult<Box<TlsStream<Sniff<TcpStream>>>> {
    let setup = TlsSetup::new(server.bare_host(), server.ca_file.as_deref()).map_err(|detail| {
        StepError::new(
            StepFailure::Configuration {
                detail: detail.clone(),
            },
            format!("TLS cannot be set up: {detail}."),
        )
    })?;
    let done = match setup.handshake(tcp).await {
        Ok(done) => done,
        Err(HandshakeFailed {
            detail,
            first_bytes,
        }) => return Err(handshake_failure(&detail, &first_bytes, redact)),
    };
    let (certificate, problems) = setup.analyse(&done.chain);
    let valid = problems.is_empty();
    let summary = match (&certificate, valid) {
        (Some(c), true) => format!(
            "{} with {}; certificate for {} issued by {}, valid until {}.",
            done.protocol,
            done.cipher_suite,
            c.names
                .first()
                .cloned()
                .unwrap_or_else(|| c.subject.clone()),
            c.issuer,
            super::verdict::format_time(c.not_after),
        ),
        (_, true) => format!(
            "{} with {}; certificate valid.",
            done.protocol, done.cipher_suite
        ),
        (_, false) => {
            let list: Vec<String> = problems.iter().map(describe_problem).collect();
            format!(
                "{} set up, but the certificate failed the check: {}.",
                done.protocol,
                list.join("; ")
            )
        }
    };
    *info = Some(TlsInfo {
        protocol: done.protocol,
        cipher_suite: done.cipher_suite,
        certificate,
        chain_length: done.chain.len(),
        valid_for_host: valid,
        problems: problems.clone(),
    });
    if valid {
        Ok((done.stream, summary))
    } else {
        // The stream is dropped here: nothing more is said over this connection.
        Err(StepError::new(
            StepFailure::Certificate { problems },
            summary,
        ))
    }
}

fn describe_problem(problem: &super::report::CertProblem) -> String {
    use super::report::CertProblem;
    use super::verdict::format_time;
    match problem {
        CertProblem::SelfSigned => "it is self-signed".into(),
        CertProblem::Untrusted { reason } => reason.clone(),
        CertProblem::Expired { not_after: Some(t) } => format!("it expired on {}", format_time(*t)),
        CertProblem::Expired { not_after: None } => "a certificate in its chain expired".into(),
        CertProblem::NotYetValid {
            not_before: Some(t),
        } => {
            format!("it only becomes valid on {}", format_time(*t))
        }
        CertProblem::NotYetValid { not_before: None } => "it is not valid yet".into(),
        CertProblem::WrongHost { host, names } => {
            if names.is_empty() {
                format!("it is not made out for {host}")
            } else {
                format!("it is made out for {}, not {host}", names.join(", "))
            }
        }
    }
}

fn handshake_failure(detail: &str, first_bytes: &[u8], redact: Redactor<'_>) -> StepError {
    if first_bytes.starts_with(b"* ") {
        let shown = redact.bytes(first_bytes);
        return StepError::new(
            StepFailure::TlsHandshake {
                peer_spoke_imap: true,
                detail: detail.to_owned(),
            },
            format!("The server answered in plain IMAP (\u{201c}{shown}\u{201d}) instead of TLS."),
        );
    }
    let printable = !first_bytes.is_empty()
        && first_bytes
            .iter()
            .all(|b| (0x20..0x7f).contains(b) || matches!(b, b'\r' | b'\n' | b'\t'));
    if printable {
        let shown = redact.bytes(first_bytes);
        return StepError::new(
            StepFailure::NotImap {
                looks_like_tls: false,
                sample: shown.clone(),
            },
            format!("The server answered in plain text, not TLS: \u{201c}{shown}\u{201d}"),
        );
    }
    StepError::new(
        StepFailure::TlsHandshake {
            peer_spoke_imap: false,
            detail: detail.to_owned(),
        },
        format!("The TLS handshake failed: {detail}."),
    )
}

async fn greet(wire: &mut Wire<Transport>, redact: Redactor<'_>) -> StepResult<StatusLine> {
    let first = wire.peek_first().await.map_err(|e| match e {
        WireError::Closed => StepError::new(
            StepFailure::Closed,
            "The server closed the connection without a greeting.",
        ),
        other => wire_failure(other, redact),
    })?;
    if !first.starts_with(b"*") {
        let looks_like_tls = tls::looks_like_tls(first);
        let sample = redact.bytes(first);
        let summary = if looks_like_tls {
            format!("The server answered with TLS data (\u{201c}{sample}\u{201d}), not an IMAP greeting.")
        } else {
            format!("The server's first words are not IMAP: \u{201c}{sample}\u{201d}")
        };
        return Err(StepError::new(
            StepFailure::NotImap {
                looks_like_tls,
                sample,
            },
            summary,
        ));
    }
    let line = wire
        .read_line()
        .await
        .map_err(|e| wire_failure(e, redact))?;
    let shown = redact.text(&line);
    let status = match super::wire::parse_line(&line) {
        Ok(super::wire::Line::Untagged(Untagged::Status(s))) => s,
        _ => {
            return Err(StepError::new(
                StepFailure::NotImap {
                    looks_like_tls: false,
                    sample: shown.clone(),
                },
                format!("The greeting is not IMAP: \u{201c}{shown}\u{201d}"),
            ))
        }
    };
    let unavailable = status.code_word().as_deref() == Some("UNAVAILABLE");
    match status.status {
        Status::Ok if !unavailable => Ok((
            status,
            format!("The server greeted: \u{201c}{shown}\u{201d}"),
        )),
        Status::Preauth => Err(StepError::new(
            StepFailure::Preauth,
            format!("The server let us in before we signed in: \u{201c}{shown}\u{201d}"),
        )),
        _ => Err(StepError::new(
            StepFailure::Bye {
                code: status.code.as_deref().map(|c| redact.text(c)),
                text: redact.text(&status.text),
            },
            format!("The server turned us away: \u{201c}{shown}\u{201d}"),
        )),
    }
}

async fn capability(
    wire: &mut Wire<Transport>,
    known: Vec<String>,
    redact: Redactor<'_>,
) -> StepResult<Vec<String>> {
    let response = wire
        .command("CAPABILITY")
        .await
        .map_err(|e| wire_failure(e, redact))?;
    if response.done.status != Status::Ok {
        return Err(refused(&response.done, redact, "CAPABILITY was refused"));
    }
    let capabilities: Vec<String> = response
        .capabilities()
        .unwrap_or(known)
        .iter()
        .map(|c| redact.text(c))
        .collect();
    let mechanisms = mechanisms(&capabilities);
    let mut notes = Vec::new();
    notes.push(if mechanisms.is_empty() {
        "no AUTH= mechanisms announced".to_owned()
    } else {
        format!("sign-in mechanisms: {}", mechanisms.join(", "))
    });
    if has(&capabilities, "STARTTLS") {
        notes.push("STARTTLS offered".into());
    }
    if has(&capabilities, "LOGINDISABLED") {
        notes.push("LOGIN disabled (LOGINDISABLED)".into());
    }
    let summary = format!(
        "The server announced {} capabilities; {}.",
        capabilities.len(),
        notes.join("; ")
    );
    Ok((capabilities, summary))
}

async fn starttls(
    mut wire: Wire<Transport>,
    offered: bool,
    redact: Redactor<'_>,
) -> StepResult<(TcpStream, u32)> {
    if !offered {
        return Err(StepError::new(
            StepFailure::StartTlsNotOffered,
            "The server does not announce STARTTLS.",
        ));
    }
    let response = wire
        .command("STARTTLS")
        .await
        .map_err(|e| wire_failure(e, redact))?;
    if response.done.status != Status::Ok {
        return Err(refused(&response.done, redact, "STARTTLS was refused"));
    }
    let next_tag = wire.next_tag();
    let (transport, leftover) = wire.into_parts();
    if !leftover.is_empty() {
        // Bytes that arrived before encryption but would be read after it: the pattern of
        // a STARTTLS command-injection attack. Never continue on such a connection.
        return Err(StepError::new(
            StepFailure::Protocol {
                detail: "the server sent data right after agreeing to STARTTLS".into(),
            },
            "The server sent data right after agreeing to STARTTLS, before encryption \
             began; Mailkeys stopped there, as this is how STARTTLS injection attacks work.",
        ));
    }
    match transport {
        Transport::Plain(tcp) => Ok((
            (tcp, next_tag),
            "The server agreed to switch to TLS.".into(),
        )),
        Transport::Tls(_) => Err(StepError::new(
            StepFailure::Protocol {
                detail: "STARTTLS on a connection that is already encrypted".into(),
            },
            "STARTTLS was asked for on a connection that is already encrypted.",
        )),
    }
}

/// Signs in with LOGIN, or with AUTHENTICATE PLAIN when LOGIN is disabled. Returns the
/// capabilities the server announced on success, if it did.
async fn login(
    wire: &mut Wire<Transport>,
    username: &str,
    password: &SecretString,
    capabilities: &[String],
    encrypted: bool,
    redact: Redactor<'_>,
) -> StepResult<Option<Vec<String>>> {
    let login_disabled = has(capabilities, "LOGINDISABLED");
    let plain = mechanisms(capabilities).iter().any(|m| m == "PLAIN");
    let user = username.as_bytes();
    let pass = password.expose_secret().as_bytes();
    let (result, how) = if !login_disabled {
        (wire.login(user, pass).await, "LOGIN")
    } else if plain {
        let sasl_ir = has(capabilities, "SASL-IR");
        (
            wire.authenticate_plain(user, pass, sasl_ir).await,
            "AUTHENTICATE PLAIN",
        )
    } else {
        let mechanisms = mechanisms(capabilities);
        let offered = if mechanisms.is_empty() {
            "none".to_owned()
        } else {
            mechanisms.join(", ")
        };
        return Err(StepError::new(
            StepFailure::LoginNotPossible {
                encrypted,
                starttls_offered: has(capabilities, "STARTTLS"),
                mechanisms,
            },
            format!(
                "Not attempted: the server disables LOGIN and offers no password mechanism \
                 (offered: {offered})."
            ),
        ));
    };
    let response: Response = result.map_err(|e| wire_failure(e, redact))?;
    if response.done.status != Status::Ok {
        return Err(refused(&response.done, redact, "Signing in was refused"));
    }
    let over = if encrypted {
        ""
    } else {
        " over an unencrypted connection"
    };
    let capabilities = response
        .capabilities()
        .map(|caps| caps.iter().map(|c| redact.text(c)).collect());
    Ok((capabilities, format!("Signed in with {how}{over}.")))
}

async fn select_inbox(wire: &mut Wire<Transport>, redact: Redactor<'_>) -> StepResult<u32> {
    let response = wire
        .command("SELECT INBOX")
        .await
        .map_err(|e| wire_failure(e, redact))?;
    if response.done.status != Status::Ok {
        return Err(refused(&response.done, redact, "Opening INBOX was refused"));
    }
    let messages = response.exists().unwrap_or(0);
    let summary = match messages {
        1 => "INBOX holds 1 message.".to_owned(),
        n => format!("INBOX holds {n} messages."),
    };
    Ok((messages, summary))
}

async fn logout(wire: &mut Wire<Transport>, redact: Redactor<'_>) -> StepResult<()> {
    match wire.command("LOGOUT").await {
        Ok(_) | Err(WireError::Bye(_)) | Err(WireError::Closed) => {
            Ok(((), "Signed out.".to_owned()))
        }
        Err(e) => Err(wire_failure(e, redact)),
    }
}

/// A fresh connection to the same address, and only a TLS handshake on it.
async fn probe_tls(server: &MailServer, addr: SocketAddr) -> StepResult<()> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| {
        StepError::new(
            StepFailure::Io {
                detail: e.to_string(),
            },
            format!("Could not connect again: {e}."),
        )
    })?;
    let setup = TlsSetup::new(server.bare_host(), server.ca_file.as_deref()).map_err(|detail| {
        StepError::new(
            StepFailure::Configuration {
                detail: detail.clone(),
            },
            detail,
        )
    })?;
    match setup.handshake(tcp).await {
        Ok(done) => Ok((
            (),
            format!(
                "The port completed a {} handshake: it expects encryption from the first byte.",
                done.protocol
            ),
        )),
        Err(failed) => Err(StepError::new(
            StepFailure::TlsHandshake {
                peer_spoke_imap: false,
                detail: failed.detail.clone(),
            },
            format!("The port does not speak TLS either ({}).", failed.detail),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hidden(username: &str, password: &str, server_text: &str) -> String {
        let secret = SecretString::from(password.to_owned());
        let needles = Needles::new(username, &secret);
        Redactor { needles: &needles }.text(server_text)
    }

    #[test]
    fn the_password_is_hidden_in_server_text_as_typed_quoted_or_base64() {
        assert_eq!(
            hidden("ann", "s3cret", "BAD s3cret"),
            "BAD [password hidden]"
        );
        assert_eq!(
            hidden("ann", r#"a"b\c"#, r#"BAD LOGIN "ann" "a\"b\\c""#),
            r#"BAD LOGIN "ann" "[password hidden]""#
        );
        // base64("\0ann\0pw")
        assert_eq!(
            hidden("ann", "pw", "BAD AGFubgBwdw== is wrong"),
            "BAD [password hidden] is wrong"
        );
    }

    #[test]
    fn server_text_has_control_characters_escaped_and_is_cut_short() {
        assert_eq!(hidden("ann", "pw", "a\u{1b}[31mb"), r"a\u{1b}[31mb");
        let long = "x".repeat(1000);
        assert_eq!(
            hidden("ann", "pw", &long).chars().count(),
            SHOWN_TEXT_MAX + 1
        );
    }

    #[test]
    fn binary_bytes_are_shown_as_hex_escapes() {
        let secret = SecretString::from("pw".to_owned());
        let needles = Needles::new("ann", &secret);
        let shown = Redactor { needles: &needles }.bytes(&[0x15, 0x03, 0x01, b'A']);
        assert_eq!(shown, r"\x15\x03\x01A");
    }

    #[test]
    fn auth_mechanisms_are_read_from_capabilities_in_upper_case() {
        let caps = vec![
            "IMAP4rev1".to_owned(),
            "auth=plain".to_owned(),
            "AUTH=XOAUTH2".to_owned(),
        ];
        assert_eq!(mechanisms(&caps), vec!["PLAIN", "XOAUTH2"]);
        assert!(has(&caps, "imap4REV1"));
    }
}
