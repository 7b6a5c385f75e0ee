//! The live connection test: from the Mailkeys server, sign in to a configured IMAP server
//! with the credentials a user typed, and explain in plain words what went wrong, if
//! anything. A crate of its own: it knows nothing of the web, the database or Dovecot's
//! configuration, only IMAP, TLS and the words of a verdict. Mailkeys re-exports it as
//! `mailkeys::imap`.
//!
//! Where a change goes:
//! - a new kind of failure or a new explanation: [`verdict`] (`classify` decides, `wording`
//!   says it; tests in `verdict/tests.rs`);
//! - a new step of the session: [`probe`] (`steps` runs them, `session` speaks IMAP,
//!   `transport` and `network` connect, `redaction` keeps the password out of reports);
//! - something new to say about a certificate: `tls` (`analysis`);
//! - tests against scripted servers: `tests/against_fakes.rs`, with the fake server of the
//!   `mailkeys-test-support` crate.
//!
//! - [`target`]: the servers a check may connect to ([`MailServer`], [`TlsMode`]). They come
//!   from configuration only; a request names one, it never supplies a host or port.
//! - [`probe`]: [`run_check`] runs the session step by step (DNS, TCP, TLS, greeting,
//!   CAPABILITY, STARTTLS, LOGIN, SELECT INBOX, LOGOUT), each step timed and bounded by
//!   [`Limits`], and sends a [`StepEvent`] as each starts and ends, for a live progress list.
//! - [`verdict`]: [`classify`] turns the observed [`Facts`] plus what the database knows about
//!   the typed password ([`KnownCredential`]) into one [`Verdict`] with a title and advice.
//!   It is a pure function, tested without a network.
//! - [`report`]: the [`CheckReport`] and its parts; all safe to show, log and serialise.
//!
//! Private parts: `wire` is the small hand-written IMAP client (greeting, tagged commands,
//! LOGIN with quoted strings or literals, AUTHENTICATE PLAIN), and `tls` records the
//! server's certificate chain during the handshake and verifies it afterwards with rustls'
//! WebPKI verifier against the server's `ca_file` or the system store, so that a bad
//! certificate is described (subject, names, issuer, dates) before the connection is
//! dropped. No password is ever sent over a connection whose certificate failed.
//!
//! The password stays in a [`secrecy::SecretString`]; it is exposed only to be written to
//! the socket (from a zeroized buffer), and any server text shown in a report is scrubbed
//! of it in case a broken server echoes a command.
//!
//! Typical use by a handler:
//!
//! ```ignore
//! let (tx, rx) = tokio::sync::mpsc::channel(imap::EVENT_CHANNEL_CAPACITY);
//! // forward rx as server-sent events …
//! let report = imap::run_check(&server, &username, &password, &Limits::default(), tx).await;
//! let known = /* look up LookupId::of_typed_password(&password) among the user's rows */;
//! let report = report.with_known_credential(&known);
//! ```

pub mod probe;
pub mod report;
pub mod target;
pub mod verdict;

mod tls;
mod wire;

pub use probe::{run_check, Limits, EVENT_CHANNEL_CAPACITY};
pub use report::{
    CertProblem, CertificateInfo, CheckReport, Step, StepEvent, StepOutcome, StepReport, TlsInfo,
};
pub use target::{InvalidMailServer, MailServer, TlsMode};
pub use verdict::{
    classify, proven, Facts, Failure, KnownCredential, Proven, ServerReason, StepFailure, Verdict,
};
