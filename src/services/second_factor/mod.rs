//! The second factor of web sign-in: the step after a right password, re-authentication
//! before a credential is made, and an admin's reset. Enrolment is in [`totp`] and
//! [`passkeys`], the recovery codes in [`recovery`].
//!
//! Every check of a code or passkey goes through `attempts` first, like a password: it
//! counts per account and per client address, and a locked account gets no verdict at all
//! (nothing is checked). A right answer resets the account's count.

pub mod passkeys;
pub mod recovery;
pub mod totp;

use super::attempts::{self, Admission, Attempt};
use super::credentials::{Actor, By};
use super::Services;
use crate::domain::second_factor::{SessionStage, TypedCode};
use crate::domain::UserId;
use crate::error::AppResult;
use crate::infra::totp::TotpSecret;
use crate::store::audit::{self, Entry, Event};
use crate::store::second_factors;
use crate::store::sessions;
use crate::store::users::UserRow;

/// What the second factor is wanted for.
#[derive(Clone, Copy, Debug)]
pub enum Purpose<'a> {
    /// To finish signing in: the pending session with this digest becomes a full one.
    /// `device` is the browser's device cookie, if it had one (new-device notices).
    SignIn {
        pending: &'a str,
        device: Option<&'a str>,
    },
    /// To create a credential: the session with this digest counts as just verified.
    Reauth { session: &'a str },
}

/// The outcome of a second-factor check.
pub enum Step {
    /// Proven. For a sign-in, `token` is the new full session's, for the cookie.
    /// `device_token`, when set, is a new device cookie for a browser that had none.
    Passed {
        token: Option<String>,
        device_token: Option<String>,
    },
    /// Refused before anything was checked: try again in `wait_secs`.
    Locked { wait_secs: i64 },
    /// Wrong code or passkey.
    Refused,
}

/// What proved the second factor, as the audit log says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proof {
    AuthenticatorCode,
    RecoveryCode,
    Passkey,
}

impl Proof {
    fn detail(self) -> &'static str {
        match self {
            Self::AuthenticatorCode => "with an authenticator code",
            Self::RecoveryCode => "with a recovery code",
            Self::Passkey => "with a passkey",
        }
    }
}

/// Counts the attempt for `user` from `ip`; `None` (with the wait) when locked.
pub(super) async fn admit(
    state: &Services,
    user: &UserRow,
    ip: &str,
) -> AppResult<Result<Attempt, i64>> {
    match attempts::admit(state, &user.email, ip).await? {
        Admission::Granted(attempt) => Ok(Ok(attempt)),
        Admission::Locked { wait_secs } => Ok(Err(wait_secs)),
    }
}

/// Checks a typed authenticator or recovery code of `user` for `purpose`.
pub async fn check_code(
    state: &Services,
    user: &UserRow,
    typed: &str,
    purpose: Purpose<'_>,
    ip: &str,
) -> AppResult<Step> {
    let attempt = match admit(state, user, ip).await? {
        Ok(attempt) => attempt,
        Err(wait_secs) => return Ok(Step::Locked { wait_secs }),
    };
    let proof = match TypedCode::parse(typed) {
        Some(code) => spend_code(state, user.id, &code).await?,
        None => None,
    };
    conclude(state, attempt, user, purpose, proof, ip).await
}

/// Whether `code` is a valid code of `user`; a valid one is used up (an authenticator
/// code's step, or the recovery code).
async fn spend_code(state: &Services, user: UserId, code: &TypedCode) -> AppResult<Option<Proof>> {
    let now = state.now();
    match code {
        TypedCode::Totp(digits) => {
            let Some(row) = second_factors::totp_of(&state.db, user).await? else {
                return Ok(None);
            };
            if !row.confirmed {
                return Ok(None);
            }
            let secret = TotpSecret::from_stored(row.secret);
            let step = secret
                .matching_step(digits, now)
                .map_err(crate::error::AppError::internal)?;
            match step {
                // A code already used (or older than one used) is refused: no replay.
                Some(step) if second_factors::totp_use_step(&state.db.pool, user, step).await? => {
                    Ok(Some(Proof::AuthenticatorCode))
                }
                _ => Ok(None),
            }
        }
        TypedCode::Recovery(compact) => {
            let hash = state.attempt_keys.recovery_code(user, compact);
            let used = second_factors::recovery_use(&state.db.pool, user, &hash, now).await?;
            Ok(used.then_some(Proof::RecoveryCode))
        }
    }
}

/// Finishes a counted attempt: on success resets the count and upgrades or marks the
/// session (with an audit entry); on failure records the failure.
pub(super) async fn conclude(
    state: &Services,
    attempt: Attempt,
    user: &UserRow,
    purpose: Purpose<'_>,
    proof: Option<Proof>,
    ip: &str,
) -> AppResult<Step> {
    let now = state.now();
    let Some(proof) = proof else {
        let entry = Entry {
            actor: None,
            subject: Some(user.id),
            event: Event::SecondFactorFailed,
            detail: format!("{} consecutive failures", attempt.failures),
            ip: Some(ip),
        };
        audit::record_failed_attempt(&state.db.attempts, entry, attempt.account_key(), now).await?;
        return Ok(Step::Refused);
    };
    let mut detail = proof.detail().to_owned();
    if proof == Proof::RecoveryCode {
        let left = second_factors::recovery_remaining(&state.db, user.id).await?;
        detail.push_str(&format!(" ({left} left)"));
    }
    let mut tx = state.db.begin().await?;
    attempt.succeeded(&mut tx).await?;
    let (event, token, device_token) = match purpose {
        Purpose::SignIn { pending, device } => {
            // A new session id for the signed-in session: the pending one ends here.
            let (token, session) = super::auth::new_session(user.id, ip, now, SessionStage::Full)?;
            sessions::delete(&mut *tx, pending).await?;
            sessions::insert(&mut *tx, session.as_new()).await?;
            crate::store::users::touch_activity(&mut *tx, user.id, now).await?;
            // The sign-in is complete only now: a new browser or network is noticed here.
            let device_token = super::devices::signed_in(state, &mut tx, user, device, ip).await?;
            (Event::SignIn, Some(token), device_token)
        }
        Purpose::Reauth { session } => {
            sessions::set_verified(&mut *tx, session, now).await?;
            (Event::Reauthenticated, None, None)
        }
    };
    let entry = Entry {
        actor: Some(user.id),
        subject: Some(user.id),
        event,
        detail,
        ip: Some(ip),
    };
    audit::record(&mut *tx, entry, now).await?;
    tx.commit().await?;
    if matches!(purpose, Purpose::SignIn { .. }) {
        state
            .metrics
            .sign_in(crate::infra::metrics::SignInOutcome::Success);
    }
    Ok(Step::Passed {
        token,
        device_token,
    })
}

/// What an account has of second factors, for its pages.
pub struct Status {
    pub totp_active: bool,
    pub recovery_left: i64,
    pub passkeys: Vec<second_factors::PasskeyRow>,
}

pub async fn status(state: &Services, user: UserId) -> AppResult<Status> {
    let totp_active = second_factors::totp_of(&state.db, user)
        .await?
        .is_some_and(|row| row.confirmed);
    Ok(Status {
        totp_active,
        recovery_left: second_factors::recovery_remaining(&state.db, user).await?,
        passkeys: second_factors::passkeys_of(&state.db, user).await?,
    })
}

/// An admin removes every second factor of `owner` (authenticator app, recovery codes,
/// passkeys), say after a lost phone; the owner then signs in with the password alone.
/// An admin removes every second factor of `owner`'s account: only of an account the admin
/// stands above (an admin's factors are a superadmin's to reset), since a second factor
/// removed is half of a sign-in taken over.
pub async fn admin_reset(state: &Services, owner: &UserRow, actor: Actor<'_>) -> AppResult<()> {
    By::from(&actor).ensure_may_act_on(owner)?;
    let mut tx = state.db.begin().await?;
    let totp = second_factors::totp_delete(&mut *tx, owner.id).await?;
    let codes = second_factors::recovery_delete(&mut *tx, owner.id).await?;
    let keys = second_factors::passkey_delete(&mut *tx, owner.id, None).await?;
    audit::record(
        &mut *tx,
        actor.entry(
            owner.id,
            Event::SecondFactorsReset,
            format!(
                "{} authenticator app, {codes} recovery codes, {keys} passkeys removed by an admin",
                totp.min(1)
            ),
        ),
        state.now(),
    )
    .await?;
    let notice = crate::services::notices::Notice::SecondFactorsReset;
    crate::services::notices::enqueue(state, &mut tx, owner, &notice, Some(actor.ip)).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes the recovery codes of an account that has no second factor left.
pub(super) async fn drop_codes_if_no_factor(
    tx: &mut crate::store::Tx,
    user: UserId,
) -> AppResult<()> {
    if !second_factors::has_factor(&mut **tx, user).await? {
        second_factors::recovery_delete(&mut **tx, user).await?;
    }
    Ok(())
}
