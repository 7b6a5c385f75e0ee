//! Recovery codes: made when an account's first second factor is added, shown once, kept
//! as keyed hashes (see `AttemptKeys::recovery_code`), each good for one sign-in.

use super::super::credentials::Actor;
use super::super::Services;
use crate::domain::second_factor::{
    display_recovery_code, RECOVERY_CODES_PER_SET, RECOVERY_CODE_SYMBOLS,
};
use crate::domain::UserId;
use crate::error::{AppError, AppResult};
use crate::infra::random::random_symbols;
use crate::store::audit::{self, Event};
use crate::store::{second_factors, Tx};

/// A new set of codes for `user` in `tx`, replacing any earlier set. Returns the codes as
/// shown to the user; only their keyed hashes are stored.
pub(super) async fn new_set(state: &Services, tx: &mut Tx, user: UserId) -> AppResult<Vec<String>> {
    let mut shown = Vec::with_capacity(RECOVERY_CODES_PER_SET);
    let mut hashes = Vec::with_capacity(RECOVERY_CODES_PER_SET);
    for _ in 0..RECOVERY_CODES_PER_SET {
        let compact = random_symbols(RECOVERY_CODE_SYMBOLS).map_err(AppError::internal)?;
        hashes.push(state.attempt_keys.recovery_code(user, &compact));
        shown.push(display_recovery_code(&compact));
    }
    second_factors::recovery_replace(tx, user, &hashes, state.now()).await?;
    Ok(shown)
}

/// A new set of codes for an account with a second factor (the old set stops working).
/// The caller has re-authenticated the user.
pub async fn regenerate(state: &Services, actor: Actor<'_>) -> AppResult<Vec<String>> {
    let user = actor.user_id;
    let mut tx = state.db.begin().await?;
    if !second_factors::has_factor(&mut *tx, user).await? {
        return Err(AppError::Forbidden(
            "Recovery codes come with a second factor: add an authenticator app or a passkey first.",
        ));
    }
    let codes = new_set(state, &mut tx, user).await?;
    audit::record(
        &mut *tx,
        actor.entry(
            user,
            Event::RecoveryCodesGenerated,
            "a new set of recovery codes",
        ),
        state.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(codes)
}
