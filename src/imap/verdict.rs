//! From what a check observed to one plain-words verdict.
//!
//! [`classify`] is a pure function of [`Facts`] (what the probe saw) and [`KnownCredential`]
//! (what the database knows about the typed password), so every rule here is tested without
//! a network, and the same facts always give the same answer.

use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

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
    /// Neither LOGIN nor AUTHENTICATE PLAIN may be used on this connection.
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

/// What Mailkeys knows about the typed password, looked up by the caller by the password's
/// lookup id ([`crate::domain::app_password::LookupId::of_typed_password`]) among the
/// signed-in user's own app passwords only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum KnownCredential {
    /// Nothing known: not shaped like an app password, or no row of this user matched.
    #[default]
    Unknown,
    /// An active app password of this user; `network_limited` when it carries `allow_nets`.
    ActiveAppPassword { network_limited: bool },
    /// An app password of this user, revoked at `at` (Unix seconds).
    RevokedAppPassword { at: i64 },
    /// An app password of this user that expired at `at` (Unix seconds).
    ExpiredAppPassword { at: i64 },
    /// Not an app password, and the account may not use its main password for IMAP.
    MainPasswordNotAllowed,
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

/// Draws the verdict from what was observed and what is known about the credential.
pub fn classify(facts: &Facts, known: &KnownCredential) -> Verdict {
    let Some(failure) = &facts.failure else {
        return match (facts.messages, known) {
            (None, _) => Verdict::ServerError {
                detail: "The check ended without opening the inbox.".into(),
            },
            (Some(_), KnownCredential::RevokedAppPassword { at }) => {
                Verdict::StillAcceptedAfterRevocation { at: *at }
            }
            (Some(_), KnownCredential::ExpiredAppPassword { at }) => {
                Verdict::StillAcceptedAfterExpiry { at: *at }
            }
            (Some(messages), _) => Verdict::Success { messages },
        };
    };
    let step = failure.step;
    match &failure.what {
        StepFailure::TimedOut { .. } => Verdict::Timeout { step },
        StepFailure::HostNotFound => Verdict::HostNotFound,
        StepFailure::DnsTemporary { detail } => Verdict::TemporaryFailure {
            reason: format!("The address lookup failed for now ({detail})."),
        },
        StepFailure::ConnectionRefused => Verdict::ConnectionRefused,
        StepFailure::Unreachable { detail } => Verdict::Unreachable {
            detail: detail.clone(),
        },
        StepFailure::Closed => Verdict::ClosedByServer { step },
        StepFailure::TlsHandshake {
            peer_spoke_imap: true,
            ..
        } => Verdict::TlsToPlaintextPort,
        StepFailure::TlsHandshake { detail, .. } => Verdict::TlsFailed {
            detail: detail.clone(),
        },
        StepFailure::Certificate { problems } => certificate_verdict(problems),
        StepFailure::NotImap {
            looks_like_tls: true,
            ..
        }
        | StepFailure::SpeaksTls => Verdict::PlaintextToTlsPort,
        StepFailure::NotImap { sample, .. } => Verdict::NotImap {
            sample: sample.clone(),
        },
        StepFailure::Bye { text, .. } => Verdict::TemporaryFailure {
            reason: if text.is_empty() {
                "The server ended the session.".into()
            } else {
                format!("The server ended the session: \u{201c}{text}\u{201d}")
            },
        },
        StepFailure::Preauth => Verdict::ServerError {
            detail: "The server let us in without asking for a password (PREAUTH), so the \
                     password was not tested. This port is meant for trusted local programs, \
                     not for mail clients."
                .into(),
        },
        StepFailure::StartTlsNotOffered => Verdict::StartTlsNotOffered,
        StepFailure::LoginNotPossible {
            encrypted,
            starttls_offered,
            mechanisms,
        } => {
            if !encrypted && (*starttls_offered || mechanisms.is_empty()) {
                Verdict::LoginDisabledBeforeTls
            } else {
                Verdict::NoPasswordMechanism {
                    offered: mechanisms.clone(),
                }
            }
        }
        StepFailure::Refused { bad, code, text } => refusal_verdict(step, *bad, code, text, known),
        StepFailure::Protocol { detail } | StepFailure::Io { detail } => Verdict::ServerError {
            detail: format!("While {}: {detail}", step.while_doing()),
        },
        StepFailure::Configuration { detail } => Verdict::Misconfigured {
            detail: detail.clone(),
        },
        StepFailure::PasswordNotSendable => Verdict::PasswordNotSendable,
    }
}

/// The problem to lead with when a certificate has several: trust first (nothing else
/// matters until it is trusted), then the name (the wrong server entirely?), then dates.
fn certificate_verdict(problems: &[CertProblem]) -> Verdict {
    let rank = |p: &CertProblem| match p {
        CertProblem::SelfSigned => 0,
        CertProblem::Untrusted { .. } => 1,
        CertProblem::WrongHost { .. } => 2,
        CertProblem::Expired { .. } => 3,
        CertProblem::NotYetValid { .. } => 4,
    };
    match problems.iter().min_by_key(|p| rank(p)) {
        Some(CertProblem::SelfSigned) => Verdict::CertificateSelfSigned,
        Some(CertProblem::Untrusted { reason }) => Verdict::CertificateUntrusted {
            reason: reason.clone(),
        },
        Some(CertProblem::WrongHost { host, names }) => Verdict::CertificateWrongHost {
            host: host.clone(),
            names: names.clone(),
        },
        Some(CertProblem::Expired { not_after }) => Verdict::CertificateExpired {
            not_after: *not_after,
        },
        Some(CertProblem::NotYetValid { not_before }) => Verdict::CertificateUntrusted {
            reason: match not_before {
                Some(t) => format!("it only becomes valid on {}", format_time(*t)),
                None => "it is not valid yet".into(),
            },
        },
        None => Verdict::CertificateUntrusted {
            reason: "it could not be verified".into(),
        },
    }
}

fn refusal_verdict(
    step: Step,
    bad: bool,
    code: &Option<String>,
    text: &str,
    known: &KnownCredential,
) -> Verdict {
    let code_word = code
        .as_deref()
        .and_then(|c| c.split_whitespace().next())
        .map(str::to_ascii_uppercase);
    let said = if text.is_empty() {
        String::new()
    } else {
        format!(" The server said: \u{201c}{text}\u{201d}")
    };
    match code_word.as_deref() {
        Some("UNAVAILABLE" | "LIMIT" | "INUSE") => {
            return Verdict::TemporaryFailure {
                reason: if text.is_empty() {
                    "It cannot serve this account right now.".into()
                } else {
                    format!("It said: \u{201c}{text}\u{201d}")
                },
            };
        }
        Some("PRIVACYREQUIRED") => return Verdict::LoginDisabledBeforeTls,
        _ => {}
    }
    if step != Step::Login {
        let what = match step {
            Step::SelectInbox => "Signing in worked, but the server would not open the inbox.",
            Step::StartTls => "The server refused to switch to encryption.",
            _ => "The server refused a command.",
        };
        return Verdict::ServerError {
            detail: format!("{what}{said}"),
        };
    }
    if bad {
        return Verdict::ServerError {
            detail: format!("The server did not understand the sign-in command.{said}"),
        };
    }
    let credential_problem = matches!(
        code_word.as_deref(),
        None | Some("AUTHENTICATIONFAILED" | "AUTHORIZATIONFAILED" | "EXPIRED" | "ALERT")
    );
    if !credential_problem {
        return Verdict::ServerError {
            detail: format!("The server refused to sign in.{said}"),
        };
    }
    match known {
        KnownCredential::RevokedAppPassword { at } => Verdict::AppPasswordRevoked { at: *at },
        KnownCredential::ExpiredAppPassword { at } => Verdict::AppPasswordExpired { at: *at },
        KnownCredential::MainPasswordNotAllowed => Verdict::MainPasswordRefused,
        KnownCredential::ActiveAppPassword {
            network_limited: true,
        } => Verdict::AppPasswordNetworkLimited,
        KnownCredential::ActiveAppPassword {
            network_limited: false,
        }
        | KnownCredential::Unknown => Verdict::WrongPassword,
    }
}

/// Ends a text with a full stop unless it already ends a sentence or a quotation.
fn sentence(mut text: String) -> String {
    if !text.ends_with(['.', '!', '?', '\u{201d}']) {
        text.push('.');
    }
    text
}

/// A Unix time as "3 March 2025, 14:05 UTC".
pub fn format_time(unix: i64) -> String {
    let format = time::macros::format_description!(
        "[day padding:none] [month repr:long] [year], [hour]:[minute] UTC"
    );
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| format!("{unix} (Unix time)"))
}

impl Verdict {
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Success { .. })
    }

    /// A stable name for the JSON endpoint and for templates.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Success { .. } => "success",
            Self::StillAcceptedAfterRevocation { .. } => "still_accepted_after_revocation",
            Self::StillAcceptedAfterExpiry { .. } => "still_accepted_after_expiry",
            Self::WrongPassword => "wrong_password",
            Self::AppPasswordRevoked { .. } => "app_password_revoked",
            Self::AppPasswordExpired { .. } => "app_password_expired",
            Self::AppPasswordNetworkLimited => "app_password_network_limited",
            Self::MainPasswordRefused => "main_password_refused",
            Self::NoPasswordMechanism { .. } => "no_password_mechanism",
            Self::LoginDisabledBeforeTls => "login_disabled_before_tls",
            Self::StartTlsNotOffered => "starttls_not_offered",
            Self::CertificateSelfSigned => "certificate_self_signed",
            Self::CertificateExpired { .. } => "certificate_expired",
            Self::CertificateWrongHost { .. } => "certificate_wrong_host",
            Self::CertificateUntrusted { .. } => "certificate_untrusted",
            Self::TlsToPlaintextPort => "tls_to_plaintext_port",
            Self::PlaintextToTlsPort => "plaintext_to_tls_port",
            Self::TlsFailed { .. } => "tls_failed",
            Self::NotImap { .. } => "not_imap",
            Self::ConnectionRefused => "connection_refused",
            Self::Unreachable { .. } => "unreachable",
            Self::ClosedByServer { .. } => "closed_by_server",
            Self::Timeout { .. } => "timeout",
            Self::HostNotFound => "host_not_found",
            Self::TemporaryFailure { .. } => "temporary_failure",
            Self::ServerError { .. } => "server_error",
            Self::PasswordNotSendable => "password_not_sendable",
            Self::Misconfigured { .. } => "misconfigured",
        }
    }

    /// What happened, in one plain sentence.
    pub fn title(&self) -> String {
        match self {
            Self::Success { messages } => match messages {
                1 => "It works: signed in and found 1 message in the inbox.".into(),
                n => format!("It works: signed in and found {n} messages in the inbox."),
            },
            Self::StillAcceptedAfterRevocation { at } => format!(
                "The mail server still accepts this app password, although it was revoked on {}.",
                format_time(*at)
            ),
            Self::StillAcceptedAfterExpiry { at } => format!(
                "The mail server still accepts this app password, although it expired on {}.",
                format_time(*at)
            ),
            Self::WrongPassword => "The server did not accept the user name or password.".into(),
            Self::AppPasswordRevoked { at } => format!(
                "This app password was revoked on {}, so it no longer works.",
                format_time(*at)
            ),
            Self::AppPasswordExpired { at } => format!(
                "This app password expired on {}, so it no longer works.",
                format_time(*at)
            ),
            Self::AppPasswordNetworkLimited => {
                "The server refused this app password; it only works from certain networks.".into()
            }
            Self::MainPasswordRefused => {
                "Your account's main password cannot be used for mail; it needs an app password."
                    .into()
            }
            Self::NoPasswordMechanism { offered } => {
                if offered.is_empty() {
                    "The server does not accept passwords for signing in.".into()
                } else {
                    format!(
                        "The server does not accept passwords for signing in; it only offers {}.",
                        offered.join(", ")
                    )
                }
            }
            Self::LoginDisabledBeforeTls => {
                "The server refuses passwords until the connection is encrypted.".into()
            }
            Self::StartTlsNotOffered => {
                "The server does not offer to switch to encryption (STARTTLS).".into()
            }
            Self::CertificateSelfSigned => {
                "The server's certificate is self-signed, so it cannot be trusted.".into()
            }
            Self::CertificateExpired { not_after } => match not_after {
                Some(t) => format!("The server's certificate expired on {}.", format_time(*t)),
                None => "The server's certificate (or one in its chain) has expired.".into(),
            },
            Self::CertificateWrongHost { host, .. } => {
                format!("The server's certificate is not made out for {host}.")
            }
            Self::CertificateUntrusted { reason } => {
                format!("The server's certificate cannot be trusted: {reason}.")
            }
            Self::TlsToPlaintextPort => {
                "This port expects plain IMAP, but the check started with encryption (TLS).".into()
            }
            Self::PlaintextToTlsPort => {
                "This port expects encryption (TLS) from the start, but the check spoke plain IMAP."
                    .into()
            }
            Self::TlsFailed { detail } => {
                format!("Setting up encryption with the server failed ({detail}).")
            }
            Self::NotImap { .. } => "Something answers on this port, but it is not IMAP.".into(),
            Self::ConnectionRefused => "The server refused the connection on this port.".into(),
            Self::Unreachable { detail } => {
                format!("The server cannot be reached from Mailkeys ({detail}).")
            }
            Self::ClosedByServer { step } => {
                format!("The server hung up while {}.", step.while_doing())
            }
            Self::Timeout { step } => {
                format!(
                    "The server did not answer in time while {}.",
                    step.while_doing()
                )
            }
            Self::HostNotFound => "The server's name does not exist in DNS.".into(),
            Self::TemporaryFailure { reason } => {
                sentence(format!("The server is temporarily unavailable. {reason}"))
            }
            Self::ServerError { detail } => {
                sentence(format!("The server reported a problem. {detail}"))
            }
            Self::PasswordNotSendable => {
                "The password contains a character that cannot be sent to a mail server.".into()
            }
            Self::Misconfigured { detail } => sentence(format!(
                "This mail server entry is set up wrongly in Mailkeys: {detail}"
            )),
        }
    }

    /// What to do next, in plain words.
    pub fn advice(&self) -> String {
        let admin = "If you are not the administrator, pass this message on to them.";
        match self {
            Self::Success { .. } => {
                "Use the same server, user name and password in your mail app.".into()
            }
            Self::StillAcceptedAfterRevocation { .. } | Self::StillAcceptedAfterExpiry { .. } => {
                format!(
                    "The mail server is probably still using a cached copy of the password \
                     (Dovecot's auth_cache_ttl). It should stop working when the cache entry \
                     expires; to end it now, flush the cache (`doveadm auth cache flush`). {admin}"
                )
            }
            Self::WrongPassword => "Check that Caps Lock is off and that the user name is \
                 exactly right. If you pasted an app password, paste it again in full, dashes \
                 included. Mail apps need an app password, not the password you use on the web. \
                 If the password was changed or rotated recently, use the new one."
                .into(),
            Self::AppPasswordRevoked { .. } => {
                "Create a new app password on the dashboard and put it in your mail app.".into()
            }
            Self::AppPasswordExpired { .. } => "Create a new app password on the dashboard \
                 (choose a longer lifetime if you like) and put it in your mail app."
                .into(),
            Self::AppPasswordNetworkLimited => "The check runs from the Mailkeys server, which \
                 may be outside the networks this app password allows. Test from the device \
                 itself, or widen the allowed networks."
                .into(),
            Self::MainPasswordRefused => "Create an app password on the dashboard and use it \
                 in your mail app instead of your main password."
                .into(),
            Self::NoPasswordMechanism { .. } => format!(
                "Mailkeys app passwords need a server that accepts passwords (LOGIN or \
                 AUTHENTICATE PLAIN). Enable password authentication on the server, or pick \
                 the right server in Mailkeys' configuration. {admin}"
            ),
            Self::LoginDisabledBeforeTls => format!(
                "Set this server's `tls` to \"starttls\" (port 143) or \"implicit\" (port 993) \
                 in Mailkeys' configuration, and in mail apps use encryption. {admin}"
            ),
            Self::StartTlsNotOffered => format!(
                "Check the port: 993 usually wants `tls = \"implicit\"`. If this really is \
                 port 143, enable TLS on the server: without it, passwords would travel \
                 unencrypted. {admin}"
            ),
            Self::CertificateSelfSigned => format!(
                "Install a certificate from a public authority (for example Let's Encrypt) on \
                 the mail server. If a self-signed certificate is intended, give its file to \
                 Mailkeys as this server's `ca_file`; mail apps must then be told to trust \
                 it too. {admin}"
            ),
            Self::CertificateExpired { .. } => format!(
                "Renew the certificate on the mail server and reload it (and check that \
                 automatic renewal works). Also check this machine's clock. {admin}"
            ),
            Self::CertificateWrongHost { names, .. } => {
                let valid = if names.is_empty() {
                    String::new()
                } else {
                    format!(" It is valid for: {}.", names.join(", "))
                };
                format!(
                    "Use the host name the certificate was issued for in Mailkeys' \
                     configuration and in mail apps, or get a certificate that includes this \
                     name.{valid} {admin}"
                )
            }
            Self::CertificateUntrusted { .. } => format!(
                "Install the full certificate chain on the mail server, or, for a private \
                 authority, give its certificate to Mailkeys as this server's `ca_file`. \
                 {admin}"
            ),
            Self::TlsToPlaintextPort => format!(
                "Set this server's `tls` to \"starttls\" if the port is 143, or use port 993 \
                 with \"implicit\". {admin}"
            ),
            Self::PlaintextToTlsPort => {
                format!("Set this server's `tls` to \"implicit\" (usual on port 993). {admin}")
            }
            Self::TlsFailed { .. } => format!(
                "The server may only offer old TLS versions or ciphers. Look at the mail \
                 server's log at the time of this check. {admin}"
            ),
            Self::NotImap { .. } => format!(
                "Check the host and port in Mailkeys' configuration: IMAP is usually on 993 \
                 (TLS) or 143. {admin}"
            ),
            Self::ConnectionRefused => format!(
                "Nothing listens on this port. Check that the mail server is running and the \
                 port is right (usually 993 or 143). {admin}"
            ),
            Self::Unreachable { .. } => format!(
                "Check the network between Mailkeys and the mail server (routes, firewalls, \
                 IPv6). {admin}"
            ),
            Self::ClosedByServer { .. } => format!(
                "The server may be refusing Mailkeys' address (a ban by fail2ban, a firewall, \
                 or a limit on connections). Look at the mail server's log at the time of \
                 this check. {admin}"
            ),
            Self::Timeout { step } => match step {
                Step::Resolve => "The name servers are slow or unreachable. Try again in a \
                     minute."
                    .into(),
                Step::Connect | Step::TlsHandshake | Step::TlsProbe => format!(
                    "A firewall may be silently dropping the connection, or the server is \
                     overloaded. Check the host, the port and firewalls. {admin}"
                ),
                Step::Greeting => format!(
                    "Something accepted the connection but never greeted. The server may be \
                     overloaded, or the port may expect encryption from the start. {admin}"
                ),
                Step::Login => "The server took too long to check the password. Mail servers \
                     slow down sign-ins from an address after recent failures, and these tests \
                     all come from Mailkeys' address: try again in a minute. If it persists, \
                     the server's password database may be slow or unreachable."
                    .into(),
                _ => "The server is slow right now. Try again in a minute.".into(),
            },
            Self::HostNotFound => format!(
                "Check the spelling of the server's host name in Mailkeys' configuration, and \
                 that its DNS records exist. {admin}"
            ),
            Self::TemporaryFailure { .. } => "Try again in a few minutes. If it persists, the \
                 mail server's administrator should look at its log."
                .into(),
            Self::ServerError { .. } => {
                format!("Look at the mail server's log at the time of this check. {admin}")
            }
            Self::PasswordNotSendable => {
                "Type the password again; it seems to contain an invisible control character."
                    .into()
            }
            Self::Misconfigured { .. } => {
                format!("Fix the entry in Mailkeys' configuration and restart it. {admin}")
            }
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.title())
    }
}

/// Serialises as `{kind, success, title, advice}`: what a page or a JSON client shows.
impl Serialize for Verdict {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Verdict", 4)?;
        s.serialize_field("kind", self.kind())?;
        s.serialize_field("success", &self.is_success())?;
        s.serialize_field("title", &self.title())?;
        s.serialize_field("advice", &self.advice())?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(step: Step, what: StepFailure) -> Facts {
        Facts {
            failure: Some(Failure { step, what }),
            messages: None,
        }
    }

    fn login_refused(code: Option<&str>) -> Facts {
        failed(
            Step::Login,
            StepFailure::Refused {
                bad: false,
                code: code.map(str::to_owned),
                text: "Authentication failed.".into(),
            },
        )
    }

    const YESTERDAY: i64 = 1_740_000_000;

    #[test]
    fn a_refused_login_with_nothing_known_is_a_wrong_password() {
        let v = classify(
            &login_refused(Some("AUTHENTICATIONFAILED")),
            &KnownCredential::Unknown,
        );
        assert_eq!(v, Verdict::WrongPassword);
        let v = classify(&login_refused(None), &KnownCredential::Unknown);
        assert_eq!(v, Verdict::WrongPassword);
    }

    #[test]
    fn the_wrong_password_advice_mentions_caps_lock_app_passwords_and_rotation() {
        let advice = Verdict::WrongPassword.advice();
        assert!(advice.contains("Caps Lock"));
        assert!(advice.contains("app password"));
        assert!(advice.contains("not the password you use on the web"));
        assert!(advice.contains("rotated recently"));
    }

    #[test]
    fn a_refused_revoked_app_password_says_when_it_was_revoked() {
        let v = classify(
            &login_refused(Some("AUTHENTICATIONFAILED")),
            &KnownCredential::RevokedAppPassword { at: YESTERDAY },
        );
        assert_eq!(v, Verdict::AppPasswordRevoked { at: YESTERDAY });
        assert!(v.title().contains("19 February 2025"), "{}", v.title());
    }

    #[test]
    fn a_refused_expired_app_password_says_when_it_expired() {
        let v = classify(
            &login_refused(None),
            &KnownCredential::ExpiredAppPassword { at: YESTERDAY },
        );
        assert_eq!(v, Verdict::AppPasswordExpired { at: YESTERDAY });
        assert!(v.title().contains("expired on 19 February 2025"));
    }

    #[test]
    fn a_refused_main_password_on_an_app_password_only_account_says_so() {
        let v = classify(
            &login_refused(Some("AUTHENTICATIONFAILED")),
            &KnownCredential::MainPasswordNotAllowed,
        );
        assert_eq!(v, Verdict::MainPasswordRefused);
    }

    #[test]
    fn a_refused_network_limited_app_password_points_at_the_network_limit() {
        let v = classify(
            &login_refused(None),
            &KnownCredential::ActiveAppPassword {
                network_limited: true,
            },
        );
        assert_eq!(v, Verdict::AppPasswordNetworkLimited);
        let v = classify(
            &login_refused(None),
            &KnownCredential::ActiveAppPassword {
                network_limited: false,
            },
        );
        assert_eq!(v, Verdict::WrongPassword);
    }

    #[test]
    fn unavailable_on_login_is_temporary_whatever_is_known() {
        for known in all_known() {
            let v = classify(&login_refused(Some("UNAVAILABLE")), &known);
            assert!(matches!(v, Verdict::TemporaryFailure { .. }), "{v:?}");
        }
    }

    #[test]
    fn a_bye_greeting_is_a_temporary_failure_that_quotes_the_server() {
        let v = classify(
            &failed(
                Step::Greeting,
                StepFailure::Bye {
                    code: Some("UNAVAILABLE".into()),
                    text: "Maintenance".into(),
                },
            ),
            &KnownCredential::Unknown,
        );
        assert_eq!(
            v,
            Verdict::TemporaryFailure {
                reason: "The server ended the session: \u{201c}Maintenance\u{201d}".into()
            }
        );
    }

    #[test]
    fn passwords_refused_on_plaintext_with_starttls_offered_need_tls_first() {
        let v = classify(
            &failed(
                Step::Capability,
                StepFailure::LoginNotPossible {
                    encrypted: false,
                    starttls_offered: true,
                    mechanisms: vec![],
                },
            ),
            &KnownCredential::Unknown,
        );
        assert_eq!(v, Verdict::LoginDisabledBeforeTls);
    }

    #[test]
    fn only_oauth_mechanisms_mean_no_password_mechanism() {
        for encrypted in [false, true] {
            let v = classify(
                &failed(
                    Step::Capability,
                    StepFailure::LoginNotPossible {
                        encrypted,
                        starttls_offered: false,
                        mechanisms: vec!["XOAUTH2".into(), "OAUTHBEARER".into()],
                    },
                ),
                &KnownCredential::Unknown,
            );
            assert_eq!(
                v,
                Verdict::NoPasswordMechanism {
                    offered: vec!["XOAUTH2".into(), "OAUTHBEARER".into()]
                }
            );
            assert!(v.title().contains("XOAUTH2, OAUTHBEARER"));
        }
    }

    #[test]
    fn privacy_required_on_login_means_tls_first() {
        let v = classify(
            &login_refused(Some("PRIVACYREQUIRED")),
            &KnownCredential::Unknown,
        );
        assert_eq!(v, Verdict::LoginDisabledBeforeTls);
    }

    #[test]
    fn a_self_signed_certificate_is_named_before_its_expiry_or_name() {
        let v = certificate_verdict(&[
            CertProblem::Expired {
                not_after: Some(YESTERDAY),
            },
            CertProblem::WrongHost {
                host: "imap.example.org".into(),
                names: vec!["localhost".into()],
            },
            CertProblem::SelfSigned,
        ]);
        assert_eq!(v, Verdict::CertificateSelfSigned);
    }

    #[test]
    fn a_wrong_name_is_named_before_an_expiry() {
        let v = certificate_verdict(&[
            CertProblem::Expired { not_after: None },
            CertProblem::WrongHost {
                host: "imap.example.org".into(),
                names: vec!["mail.example.net".into()],
            },
        ]);
        assert!(matches!(v, Verdict::CertificateWrongHost { .. }));
        assert!(v.advice().contains("mail.example.net"));
    }

    #[test]
    fn an_expired_certificate_gives_its_end_date() {
        let v = classify(
            &failed(
                Step::TlsHandshake,
                StepFailure::Certificate {
                    problems: vec![CertProblem::Expired {
                        not_after: Some(YESTERDAY),
                    }],
                },
            ),
            &KnownCredential::Unknown,
        );
        assert!(v.title().contains("expired on 19 February 2025"));
    }

    #[test]
    fn a_failed_handshake_answered_by_an_imap_line_means_a_plaintext_port() {
        let v = classify(
            &failed(
                Step::TlsHandshake,
                StepFailure::TlsHandshake {
                    peer_spoke_imap: true,
                    detail: "received corrupt message".into(),
                },
            ),
            &KnownCredential::Unknown,
        );
        assert_eq!(v, Verdict::TlsToPlaintextPort);
    }

    #[test]
    fn a_binary_greeting_or_a_tls_answer_means_a_tls_port() {
        let tls_like = failed(
            Step::Greeting,
            StepFailure::NotImap {
                looks_like_tls: true,
                sample: "\\x15\\x03\\x01".into(),
            },
        );
        let speaks = failed(Step::Greeting, StepFailure::SpeaksTls);
        for facts in [tls_like, speaks] {
            assert_eq!(
                classify(&facts, &KnownCredential::Unknown),
                Verdict::PlaintextToTlsPort
            );
        }
    }

    #[test]
    fn a_timeout_names_the_step_it_happened_in() {
        let v = classify(
            &failed(Step::Greeting, StepFailure::TimedOut { whole_check: false }),
            &KnownCredential::Unknown,
        );
        assert_eq!(
            v,
            Verdict::Timeout {
                step: Step::Greeting
            }
        );
        assert!(v.title().contains("waiting for the server's greeting"));
    }

    #[test]
    fn a_refused_select_is_a_server_error_not_a_password_problem() {
        let v = classify(
            &failed(
                Step::SelectInbox,
                StepFailure::Refused {
                    bad: false,
                    code: None,
                    text: "Mailbox is locked".into(),
                },
            ),
            &KnownCredential::Unknown,
        );
        assert!(matches!(v, Verdict::ServerError { .. }));
        assert!(v.title().contains("Mailbox is locked"));
    }

    #[test]
    fn a_revoked_app_password_that_still_works_is_flagged_not_celebrated() {
        let facts = Facts {
            failure: None,
            messages: Some(3),
        };
        let v = classify(
            &facts,
            &KnownCredential::RevokedAppPassword { at: YESTERDAY },
        );
        assert_eq!(v, Verdict::StillAcceptedAfterRevocation { at: YESTERDAY });
        assert!(!v.is_success());
        assert!(v.advice().contains("auth_cache"));
        let v = classify(&facts, &KnownCredential::Unknown);
        assert_eq!(v, Verdict::Success { messages: 3 });
        assert!(v.is_success());
    }

    #[test]
    fn a_verdict_serialises_with_kind_title_and_advice() {
        let json = serde_json::to_value(Verdict::ConnectionRefused).expect("serialises");
        assert_eq!(json["kind"], "connection_refused");
        assert_eq!(json["success"], false);
        assert!(json["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(json["advice"].as_str().is_some_and(|t| !t.is_empty()));
    }

    fn all_known() -> Vec<KnownCredential> {
        vec![
            KnownCredential::Unknown,
            KnownCredential::ActiveAppPassword {
                network_limited: false,
            },
            KnownCredential::ActiveAppPassword {
                network_limited: true,
            },
            KnownCredential::RevokedAppPassword { at: YESTERDAY },
            KnownCredential::ExpiredAppPassword { at: YESTERDAY },
            KnownCredential::MainPasswordNotAllowed,
        ]
    }

    fn all_failures() -> Vec<StepFailure> {
        let mut all = vec![
            StepFailure::TimedOut { whole_check: false },
            StepFailure::TimedOut { whole_check: true },
            StepFailure::HostNotFound,
            StepFailure::DnsTemporary {
                detail: "try again".into(),
            },
            StepFailure::ConnectionRefused,
            StepFailure::Unreachable {
                detail: "no route".into(),
            },
            StepFailure::Closed,
            StepFailure::TlsHandshake {
                peer_spoke_imap: false,
                detail: "handshake failure".into(),
            },
            StepFailure::TlsHandshake {
                peer_spoke_imap: true,
                detail: "corrupt".into(),
            },
            StepFailure::Certificate { problems: vec![] },
            StepFailure::Certificate {
                problems: vec![CertProblem::NotYetValid {
                    not_before: Some(YESTERDAY),
                }],
            },
            StepFailure::NotImap {
                looks_like_tls: false,
                sample: "SSH-2.0".into(),
            },
            StepFailure::SpeaksTls,
            StepFailure::Bye {
                code: None,
                text: String::new(),
            },
            StepFailure::Preauth,
            StepFailure::StartTlsNotOffered,
            StepFailure::LoginNotPossible {
                encrypted: true,
                starttls_offered: false,
                mechanisms: vec![],
            },
            StepFailure::Protocol {
                detail: "garbled".into(),
            },
            StepFailure::Io {
                detail: "reset".into(),
            },
            StepFailure::Configuration {
                detail: "ca_file unreadable".into(),
            },
            StepFailure::PasswordNotSendable,
        ];
        for code in [
            None,
            Some("AUTHENTICATIONFAILED"),
            Some("UNAVAILABLE"),
            Some("SERVERBUG"),
            Some("PRIVACYREQUIRED"),
            Some("authenticationfailed extra words"),
        ] {
            for bad in [false, true] {
                all.push(StepFailure::Refused {
                    bad,
                    code: code.map(str::to_owned),
                    text: "words".into(),
                });
            }
        }
        all
    }

    const ALL_STEPS: [Step; 10] = [
        Step::Resolve,
        Step::Connect,
        Step::TlsHandshake,
        Step::Greeting,
        Step::Capability,
        Step::StartTls,
        Step::TlsProbe,
        Step::Login,
        Step::SelectInbox,
        Step::Logout,
    ];

    #[test]
    fn no_failure_anywhere_is_ever_called_a_success_and_every_verdict_explains_itself() {
        for step in ALL_STEPS {
            for what in all_failures() {
                for known in all_known() {
                    let facts = failed(step, what.clone());
                    let v = classify(&facts, &known);
                    assert!(!v.is_success(), "{step:?} {what:?} {known:?} gave {v:?}");
                    assert!(
                        !matches!(
                            v,
                            Verdict::StillAcceptedAfterExpiry { .. }
                                | Verdict::StillAcceptedAfterRevocation { .. }
                        ),
                        "{v:?}"
                    );
                    assert!(
                        v.title().ends_with(['.', '!', '?', '\u{201d}']),
                        "{}",
                        v.title()
                    );
                    assert!(!v.advice().is_empty());
                    assert!(!v.kind().is_empty());
                }
            }
        }
    }

    #[test]
    fn only_a_failed_login_can_blame_the_credential() {
        for step in ALL_STEPS.into_iter().filter(|s| *s != Step::Login) {
            for what in all_failures() {
                for known in all_known() {
                    let v = classify(&failed(step, what.clone()), &known);
                    assert!(
                        !matches!(
                            v,
                            Verdict::WrongPassword
                                | Verdict::AppPasswordRevoked { .. }
                                | Verdict::AppPasswordExpired { .. }
                                | Verdict::AppPasswordNetworkLimited
                                | Verdict::MainPasswordRefused
                        ),
                        "{step:?} {what:?} gave {v:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_same_facts_always_give_the_same_verdict() {
        for what in all_failures() {
            for known in all_known() {
                let facts = failed(Step::Login, what.clone());
                assert_eq!(classify(&facts, &known), classify(&facts, &known));
            }
        }
    }

    #[test]
    fn a_time_reads_as_a_day_month_year_in_utc() {
        assert_eq!(format_time(0), "1 January 1970, 00:00 UTC");
    }
}
