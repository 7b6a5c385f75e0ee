//! The rules: from what the probe saw, and what Mailkeys knows of the password, to one
//! verdict.

use super::reasons::ServerReason;
use super::words::{self, Said};
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
        StepFailure::TlsHandshake { detail, .. }
            if detail == crate::tls::CLOSED_DURING_HANDSHAKE =>
        {
            Verdict::TlsClosedByServer
        }
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
        StepFailure::Bye { code, text } => bye_verdict(step, code, text, known),
        StepFailure::PartialGreeting { .. } => Verdict::GreetingCutOff,
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
        Some(CertProblem::NotYetValid { not_before }) => Verdict::CertificateNotYetValid {
            not_before: *not_before,
        },
        None => Verdict::CertificateUntrusted {
            reason: "it could not be verified".into(),
        },
    }
}

/// Why the server refused a command (or ended the session), read from its words, and in
/// the light of what Mailkeys knows of the password when the words are about credentials.
/// A `BYE`: a reason in its words if it gives one, a wrong password if it says so while
/// signing in, otherwise a server that is unavailable for now.
fn bye_verdict(step: Step, code: &Option<String>, text: &str, known: &KnownCredential) -> Verdict {
    let said = words::read(code.as_deref(), text);
    if said != Said::Unavailable {
        if let Some(verdict) = reason_verdict(said, step, text) {
            return verdict;
        }
    }
    if step == Step::Login && said != Said::Unrecognised && !text.is_empty() {
        return refusal_verdict(step, false, code, text, known);
    }
    Verdict::TemporaryFailure {
        reason: if text.is_empty() {
            "The server ended the session.".into()
        } else {
            format!("The server ended the session: \u{201c}{text}\u{201d}")
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
    let said = words::read(code.as_deref(), text);
    let quoted = if text.is_empty() {
        String::new()
    } else {
        format!(" The server said: \u{201c}{text}\u{201d}")
    };
    if let Some(verdict) = reason_verdict(said, step, text) {
        return verdict;
    }
    if step != Step::Login {
        let what = match step {
            Step::SelectInbox => "Signing in worked, but the server would not open the inbox.",
            Step::StartTls => "The server refused to switch to encryption.",
            _ => "The server refused a command.",
        };
        return Verdict::ServerError {
            detail: format!("{what}{quoted}"),
        };
    }
    let points_at_password = known_verdict(known).filter(|v| !matches!(v, Verdict::WrongPassword));
    match said {
        Said::BadCredentials if !bad => known_verdict(known).unwrap_or(Verdict::WrongPassword),
        // Both causes stay named unless Mailkeys knows the password is wrong: a matching
        // lookup id (an active app password) does not prove the rest of it right.
        Said::CredentialsOrImapDisabled => {
            points_at_password.unwrap_or(Verdict::Server(ServerReason::PasswordOrImapDisabled))
        }
        Said::CredentialsOrPasswordSignInOff => points_at_password.unwrap_or(Verdict::Server(
            ServerReason::PasswordOrPasswordSignInDisabled,
        )),
        Said::Alert => points_at_password.unwrap_or_else(|| {
            Verdict::Server(ServerReason::ServerMessage {
                text: text.to_owned(),
            })
        }),
        _ if bad => Verdict::ServerError {
            detail: format!("The server did not understand the sign-in command.{quoted}"),
        },
        _ => points_at_password.unwrap_or_else(|| Verdict::ServerError {
            detail: format!("The server refused to sign in.{quoted}"),
        }),
    }
}

/// The verdict when the server's words name a cause other than a plain wrong password;
/// `None` when they are about credentials or say nothing we recognise.
fn reason_verdict(said: Said, step: Step, text: &str) -> Option<Verdict> {
    let after_sign_in = matches!(step, Step::SelectInbox | Step::Logout);
    let reason = match said {
        Said::BadCredentials
        | Said::CredentialsOrImapDisabled
        | Said::CredentialsOrPasswordSignInOff
        | Said::Alert
        | Said::Unrecognised => return None,
        Said::EncryptionRequired if !after_sign_in => return Some(Verdict::LoginDisabledBeforeTls),
        Said::EncryptionRequired => return None,
        Said::Unavailable => {
            return Some(Verdict::TemporaryFailure {
                reason: if text.is_empty() {
                    "It cannot serve this account right now.".into()
                } else {
                    format!("It said: \u{201c}{text}\u{201d}")
                },
            })
        }
        Said::WebSignInRequired => ServerReason::WebSignInRequired,
        Said::ProviderAppPasswordRequired => ServerReason::ProviderAppPasswordRequired,
        Said::PasswordSignInOff => ServerReason::PasswordSignInDisabled,
        Said::ImapDisabled => ServerReason::ImapDisabled,
        Said::TooManyConnections => ServerReason::TooManyConnections,
        Said::Throttled => ServerReason::Throttled { after_sign_in },
        Said::BandwidthLimit => ServerReason::BandwidthLimit,
        Said::AccountLocked => ServerReason::AccountLocked,
        Said::PasswordExpired => ServerReason::PasswordExpired,
        Said::AccountDisabled => ServerReason::AccountDisabled {
            said: text.to_owned(),
        },
        Said::NotAuthorized if after_sign_in => ServerReason::InboxNotPermitted,
        Said::NotAuthorized => ServerReason::NotAuthorized,
        Said::NoPermission if after_sign_in => ServerReason::InboxNotPermitted,
        Said::NoPermission => ServerReason::NotAuthorized,
        Said::InUse if after_sign_in => ServerReason::MailboxInUse,
        Said::InUse => ServerReason::TooManyConnections,
        Said::OverQuota => ServerReason::MailboxOverQuota,
        Said::AuthenticatedNotConnected => ServerReason::AuthenticatedNotConnected,
        Said::AddressBlocked => ServerReason::AddressBlocked,
        Said::MailAppBlocked => ServerReason::MailAppBlocked,
    };
    Some(Verdict::Server(reason))
}

/// What Mailkeys' own knowledge of the password says about a refused sign-in; `None` when
/// it knows nothing. An active app password without network limits gives `WrongPassword`:
/// the refusal is then most likely about the user name.
fn known_verdict(known: &KnownCredential) -> Option<Verdict> {
    Some(match known {
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
        } => Verdict::WrongPassword,
        KnownCredential::Unknown => return None,
    })
}
