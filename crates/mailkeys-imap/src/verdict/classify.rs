//! The rules: from what the probe saw, and what Mailkeys knows of the password, to one
//! verdict.

use super::wording::format_time;
use super::{Facts, KnownCredential, StepFailure, Verdict};
use crate::report::{CertProblem, Step};

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
pub(super) fn certificate_verdict(problems: &[CertProblem]) -> Verdict {
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
        KnownCredential::MainPassword => Verdict::MainPasswordRefusedAlthoughAllowed,
        KnownCredential::LikelyTypo => Verdict::AppPasswordTypo,
        KnownCredential::NotOfThisAccount => Verdict::NotThisAccountsPassword,
        KnownCredential::ActiveAppPassword {
            network_limited: true,
        } => Verdict::AppPasswordNetworkLimited,
        KnownCredential::ActiveAppPassword {
            network_limited: false,
        }
        | KnownCredential::Unknown => Verdict::WrongPassword,
    }
}
