//! What a check proved about the password, so the user knows whether the password is what
//! to fix: accepted, never sent, refused before the server looked at it, or refused.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::{Facts, ServerReason, StepFailure, Verdict};
use crate::report::Step;

/// What was proven about the password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proven {
    PasswordAccepted,
    PasswordNeverSent,
    /// Sent, but the server turned the sign-in away for a reason that does not depend on
    /// the password (too many connections, a lock, a block, password sign-in switched off).
    RefusedBeforePassword,
    PasswordRefused,
    /// Sent and refused, for a reason the server named other than the password.
    RefusedForAnotherReason,
    /// Sent and refused; the server's words fit a wrong password as well as another cause.
    RefusedUnclear,
    /// Sent, but no clear answer came back.
    NoAnswer,
}

impl Proven {
    pub fn kind(self) -> &'static str {
        match self {
            Self::PasswordAccepted => "password_accepted",
            Self::PasswordNeverSent => "password_never_sent",
            Self::RefusedBeforePassword => "refused_before_checking_password",
            Self::PasswordRefused => "password_refused",
            Self::RefusedForAnotherReason => "refused_for_another_reason",
            Self::RefusedUnclear => "refused_unclear",
            Self::NoAnswer => "no_answer_to_password",
        }
    }

    /// One plain sentence.
    pub fn text(self) -> &'static str {
        match self {
            Self::PasswordAccepted => "The password was accepted.",
            Self::PasswordNeverSent => "The password was never sent.",
            Self::RefusedBeforePassword => "The server refused before checking the password.",
            Self::PasswordRefused => "The server refused the password.",
            Self::RefusedForAnotherReason => {
                "The password was sent; the server refused for a reason other than the password."
            }
            Self::RefusedUnclear => {
                "The password was sent and refused; the server's answer does not say whether \
                 the password was the cause."
            }
            Self::NoAnswer => "The password was sent, but the server gave no clear answer.",
        }
    }
}

/// Serialises as `{kind, text}`.
impl Serialize for Proven {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Proven", 2)?;
        s.serialize_field("kind", self.kind())?;
        s.serialize_field("text", self.text())?;
        s.end()
    }
}

/// What the observed facts, read as `verdict`, prove about the password.
pub fn proven(facts: &Facts, verdict: &Verdict) -> Proven {
    let Some(failure) = &facts.failure else {
        return if facts.messages.is_some() {
            Proven::PasswordAccepted
        } else {
            Proven::NoAnswer
        };
    };
    match failure.step {
        Step::SelectInbox | Step::Logout => return Proven::PasswordAccepted,
        Step::Login => {}
        _ => return Proven::PasswordNeverSent,
    }
    match &failure.what {
        StepFailure::LoginNotPossible { .. }
        | StepFailure::PasswordNotSendable
        | StepFailure::Configuration { .. } => return Proven::PasswordNeverSent,
        StepFailure::Refused { .. } | StepFailure::Bye { .. } => {}
        _ => return Proven::NoAnswer,
    }
    match verdict {
        Verdict::WrongPassword
        | Verdict::NotThisAccountsPassword
        | Verdict::AppPasswordTypo
        | Verdict::AppPasswordRevoked { .. }
        | Verdict::AppPasswordExpired { .. }
        | Verdict::AppPasswordNetworkLimited
        | Verdict::MainPasswordRefused
        | Verdict::MainPasswordRefusedAlthoughAllowed
        | Verdict::Server(ServerReason::PasswordExpired) => Proven::PasswordRefused,
        Verdict::LoginDisabledBeforeTls
        | Verdict::TemporaryFailure { .. }
        | Verdict::Server(
            ServerReason::TooManyConnections
            | ServerReason::Throttled { .. }
            | ServerReason::AccountLocked
            | ServerReason::AddressBlocked
            | ServerReason::PasswordSignInDisabled,
        ) => Proven::RefusedBeforePassword,
        Verdict::Server(
            ServerReason::PasswordOrImapDisabled | ServerReason::PasswordOrPasswordSignInDisabled,
        )
        | Verdict::ServerError { .. } => Proven::RefusedUnclear,
        _ => Proven::RefusedForAnotherReason,
    }
}
