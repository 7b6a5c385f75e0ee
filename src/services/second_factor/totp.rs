//! Enrolling an authenticator app: a new secret is stored unconfirmed and shown (QR code
//! and text); it becomes a second factor only once a code from the app is confirmed.

use super::super::credentials::Actor;
use super::super::Services;
use super::drop_codes_if_no_factor;
use crate::domain::second_factor::TypedCode;
use crate::domain::UserId;
use crate::error::{AppError, AppResult};
use crate::infra::totp::TotpSecret;
use crate::store::audit::{self, Event};
use crate::store::{second_factors, sessions};

/// Starts (or restarts) enrolment with a fresh secret. Refused when an app is active.
pub async fn start(state: &Services, actor: Actor<'_>) -> AppResult<()> {
    let secret = TotpSecret::generate().map_err(AppError::internal)?;
    let started =
        second_factors::totp_start(&state.db.pool, actor.user_id, secret.base32(), state.now())
            .await?;
    if started {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "An authenticator app is already set up: remove it first to set up another.",
        ))
    }
}

/// The secret waiting for confirmation, if enrolment was started.
pub async fn unconfirmed(state: &Services, user: UserId) -> AppResult<Option<TotpSecret>> {
    Ok(second_factors::totp_of(&state.db, user)
        .await?
        .filter(|row| !row.confirmed)
        .map(|row| TotpSecret::from_stored(row.secret)))
}

/// The outcome of confirming a code.
pub enum Confirmed {
    /// Active. `recovery_codes` is the new set when this is the account's first factor.
    Active {
        recovery_codes: Option<Vec<String>>,
    },
    WrongCode,
}

/// Activates the unconfirmed secret if `typed` is its current code. The session counts as
/// verified (the user just gave a code).
pub async fn confirm(
    state: &Services,
    actor: Actor<'_>,
    session_digest: &str,
    typed: &str,
) -> AppResult<Confirmed> {
    let user = actor.user_id;
    let Some(secret) = unconfirmed(state, user).await? else {
        return Err(AppError::Forbidden(
            "There is no authenticator app waiting to be confirmed: start again.",
        ));
    };
    let now = state.now();
    let step = match TypedCode::parse(typed) {
        Some(TypedCode::Totp(digits)) => secret
            .matching_step(&digits, now)
            .map_err(AppError::internal)?,
        _ => None,
    };
    let Some(step) = step else {
        return Ok(Confirmed::WrongCode);
    };
    let mut tx = state.db.begin().await?;
    let first = !second_factors::has_factor(&mut *tx, user).await?;
    if !second_factors::totp_confirm(&mut *tx, user, step, now).await? {
        return Ok(Confirmed::WrongCode);
    }
    let recovery_codes = if first {
        Some(super::recovery::new_set(state, &mut tx, user).await?)
    } else {
        None
    };
    sessions::set_verified(&mut *tx, session_digest, now).await?;
    audit::record(
        &mut *tx,
        actor.entry(user, Event::SecondFactorAdded, "authenticator app"),
        now,
    )
    .await?;
    let notice = crate::services::notices::Notice::SecondFactorAdded {
        factor: crate::services::notices::SecondFactor::AuthenticatorApp,
    };
    crate::services::notices::enqueue_for(state, &mut tx, user, &notice, Some(actor.ip)).await?;
    tx.commit().await?;
    Ok(Confirmed::Active { recovery_codes })
}

/// Removes the authenticator app (and the recovery codes when no factor is left). The
/// caller has re-authenticated the user.
pub async fn remove(state: &Services, actor: Actor<'_>) -> AppResult<()> {
    let user = actor.user_id;
    let mut tx = state.db.begin().await?;
    if second_factors::totp_delete(&mut *tx, user).await? == 0 {
        return Ok(());
    }
    drop_codes_if_no_factor(&mut tx, user).await?;
    audit::record(
        &mut *tx,
        actor.entry(user, Event::SecondFactorRemoved, "authenticator app"),
        state.now(),
    )
    .await?;
    let notice = crate::services::notices::Notice::SecondFactorRemoved {
        factor: crate::services::notices::SecondFactor::AuthenticatorApp,
    };
    crate::services::notices::enqueue_for(state, &mut tx, user, &notice, Some(actor.ip)).await?;
    tx.commit().await?;
    Ok(())
}
