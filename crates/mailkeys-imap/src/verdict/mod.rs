//! From what a check observed to one plain-words verdict.
//!
//! [`classify`] is a pure function of [`Facts`] (what the probe saw) and [`KnownCredential`]
//! (what the database knows about the typed password), so every rule here is tested without
//! a network, and the same facts always give the same answer.
//!
//! - `classify`: the rules, from facts to a verdict.
//! - `words`: what the server's response code and text mean (RFC 5530 codes, `[ALERT]`,
//!   `BYE` reasons, the well-known texts of big providers).
//! - `reasons`: the verdicts drawn from those words ([`ServerReason`]) and what they say.
//! - `wording`: what each verdict says (title, advice), and its stable name.
//! - `proof`: what a check proved about the password ([`Proven`]).

mod classify;
mod proof;
mod reasons;
mod wording;
mod words;

pub use classify::classify;
pub use proof::{proven, Proven};
pub use reasons::ServerReason;
pub use wording::format_time;

use super::report::{CertProblem, Step};

/// What the probe saw. Built by the probe; built by hand in tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// The step that ended the check and why; `None` when signing in and opening the inbox
    /// worked (signing out is not held against the server).
    pub failure: Option<Failure>,
    /// Messages in INBOX, when SELECT worked.
    pub messages: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub step: Step,
    pub what: StepFailure,
}

/// Why a step failed, as observed. Text fields hold server words already cleaned for display.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepFailure {
    /// No answer within the step's time, or the whole check ran out of time.
    TimedOut {
        whole_check: bool,
    },
    /// The name does not exist in DNS.
    HostNotFound,
    /// DNS did not answer properly; might work later.
    DnsTemporary {
        detail: String,
    },
    ConnectionRefused,
    /// No route, network down, address not available…
    Unreachable {
        detail: String,
    },
    /// The server closed the connection without a word.
    Closed,
    /// The TLS handshake failed. `peer_spoke_imap` when what came back was an IMAP line.
    TlsHandshake {
        peer_spoke_imap: bool,
        detail: String,
    },
    /// The handshake completed but the certificate failed our check.
    Certificate {
        problems: Vec<CertProblem>,
    },
    /// The greeting was not IMAP; `looks_like_tls` when it began like a TLS record.
    NotImap {
        looks_like_tls: bool,
        sample: String,
    },
    /// No plaintext greeting came, but the same port completed a TLS handshake.
    SpeaksTls,
    /// `* BYE`, as greeting or instead of a command's answer.
    Bye {
        code: Option<String>,
        text: String,
    },
    /// `* PREAUTH`: the server let us in before we said who we are.
    Preauth,
    /// STARTTLS was asked for but the server does not announce it.
    StartTlsNotOffered,
    /// The greeting began but the connection closed before its line ended.
    PartialGreeting {
        sample: String,
    },
    /// Neither LOGIN nor a password mechanism (AUTHENTICATE PLAIN or LOGIN) may be used on
    /// this connection.
    LoginNotPossible {
        encrypted: bool,
        starttls_offered: bool,
        /// The `AUTH=` mechanisms the server announced.
        mechanisms: Vec<String>,
    },
    /// A tagged `NO` (or `BAD` when `bad`) with its response code, if any.
    Refused {
        bad: bool,
        code: Option<String>,
        text: String,
    },
    /// The server said something we could not follow.
    Protocol {
        detail: String,
    },
    /// The connection broke.
    Io {
        detail: String,
    },
    /// The configuration of the target cannot work (e.g. an unreadable `ca_file`).
    Configuration {
        detail: String,
    },
    /// The password contains a NUL character, which IMAP cannot carry.
    PasswordNotSendable,
}

/// What Mailkeys knows about the typed password, looked up by the caller among the
/// signed-in user's own credentials only: by the password's lookup id (Mailkeys'
/// `LookupId::of_typed_password`) among their app passwords, then against the stored hash
/// of their main password.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum KnownCredential {
    /// Nothing known: the caller looked nothing up (or could not).
    #[default]
    Unknown,
    /// An active app password of this user; `network_limited` when it carries `allow_nets`.
    ActiveAppPassword { network_limited: bool },
    /// An app password of this user, revoked at `at` (Unix seconds).
    RevokedAppPassword { at: i64 },
    /// An app password of this user that expired at `at` (Unix seconds).
    ExpiredAppPassword { at: i64 },
    /// Verified against the stored hash: the account's main password, and the account may
    /// not use its main password for IMAP.
    MainPasswordNotAllowed,
    /// Verified against the stored hash: the account's main password, and the account may
    /// use it for IMAP.
    MainPassword,
    /// Not one of the user's app passwords, but shaped like one and one slip away from a
    /// live one: its lookup id differs by one character (or only in case), or its dashes
    /// are missing, extra or misplaced. When no lookup id matched exactly, also verified
    /// not to be the main password.
    LikelyTypo,
    /// Verified: neither one of the user's app passwords (no lookup id of theirs matched,
    /// and none is one slip away) nor their main password (checked against its hash).
    NotOfThisAccount,
}

/// The one-line answer of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Success {
        messages: u32,
    },
    /// Signed in with an app password Mailkeys revoked: the mail server still has it cached.
    StillAcceptedAfterRevocation {
        at: i64,
    },
    StillAcceptedAfterExpiry {
        at: i64,
    },
    WrongPassword,
    AppPasswordRevoked {
        at: i64,
    },
    AppPasswordExpired {
        at: i64,
    },
    /// The app password is limited to networks the check does not come from, most likely.
    AppPasswordNetworkLimited,
    MainPasswordRefused,
    /// Refused, and Mailkeys verified that the password is none of the account's.
    NotThisAccountsPassword,
    /// Refused, and Mailkeys found the password one slip away from a live app password.
    AppPasswordTypo,
    /// Refused, although Mailkeys verified that it is the account's main password and that
    /// the account may use it for mail: the cause lies with the server.
    MainPasswordRefusedAlthoughAllowed,
    NoPasswordMechanism {
        offered: Vec<String>,
    },
    LoginDisabledBeforeTls,
    StartTlsNotOffered,
    CertificateSelfSigned,
    CertificateExpired {
        not_after: Option<i64>,
    },
    CertificateWrongHost {
        host: String,
        names: Vec<String>,
    },
    CertificateUntrusted {
        reason: String,
    },
    /// The certificate's validity starts in the future: a clock is wrong somewhere.
    CertificateNotYetValid {
        not_before: Option<i64>,
    },
    /// The server closed the connection in the middle of the TLS handshake.
    TlsClosedByServer,
    /// The server began its greeting and hung up before finishing it.
    GreetingCutOff,
    /// The server's own words name the cause (see [`ServerReason`]).
    Server(ServerReason),
    TlsToPlaintextPort,
    PlaintextToTlsPort,
    TlsFailed {
        detail: String,
    },
    NotImap {
        sample: String,
    },
    ConnectionRefused,
    Unreachable {
        detail: String,
    },
    ClosedByServer {
        step: Step,
    },
    Timeout {
        step: Step,
    },
    HostNotFound,
    TemporaryFailure {
        reason: String,
    },
    ServerError {
        detail: String,
    },
    PasswordNotSendable,
    Misconfigured {
        detail: String,
    },
}

#[cfg(test)]
mod recorded;
#[cfg(test)]
mod tests;
