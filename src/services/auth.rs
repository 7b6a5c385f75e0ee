//! Signing in and out of the web UI: the per-address lock, the password check (an unknown
//! address costs the same hash as a known one), browser sessions, and their audit entries.

use secrecy::SecretString;

use super::credentials::Actor;
use super::Services;
use crate::domain::password_policy;
use crate::domain::{UserId, Username};
use crate::error::{AppError, AppResult};
use crate::infra::metrics::SignInOutcome;
use crate::infra::random::{random_token, token_digest};
use crate::store::audit::{self, Entry, Event};
use crate::store::sessions::{self, NewSession};
use crate::store::users::UserRow;
use crate::store::{throttle, users};

/// The outcome of a sign-in attempt.
pub enum SignIn {
    Welcome(UserRow),
    /// Refused before any hashing: too many failures for this address; try in `wait_secs`.
    Locked {
        wait_secs: i64,
    },
    /// Wrong address or password, or a disabled account: the same answer for each.
    Refused,
}

/// Checks a typed address and password. The lock is keyed by what was typed, known account
/// or not, so it reveals nothing.
pub async fn sign_in(
    state: &Services,
    typed_email: &str,
    password: SecretString,
    ip: &str,
) -> AppResult<SignIn> {
    let now = state.now();
    let parsed = Username::parse(typed_email);
    let lock_key = match &parsed {
        Ok(name) => name.as_str().to_owned(),
        Err(_) => typed_email
            .trim()
            .to_lowercase()
            .chars()
            .take(254)
            .collect(),
    };
    if let Some(wait_secs) = throttle::locked_for(&state.db, &lock_key, now).await? {
        // Decided before any hashing: a locked account costs an attacker nothing to ask
        // about and costs us nothing to refuse.
        state.metrics.sign_in(SignInOutcome::Locked);
        return Ok(SignIn::Locked { wait_secs });
    }
    let found = match &parsed {
        Ok(name) => users::find_with_hash(&state.db, name.as_str()).await?,
        Err(_) => None,
    };
    let (user, stored) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    // Over-long input is refused without hashing, the same way for every account.
    let matched = password_policy::within_max_length(&password)
        && state
            .hasher
            .verify(password, stored)
            .await
            .map_err(AppError::internal)?;
    match user {
        Some(user) if matched && !user.disabled => {
            throttle::clear(&state.db, &lock_key).await?;
            audit::record(
                &state.db.pool,
                Entry {
                    actor: Some(user.id),
                    subject: Some(user.id),
                    event: Event::SignIn,
                    detail: String::new(),
                    ip: Some(ip),
                },
                now,
            )
            .await?;
            state.metrics.sign_in(SignInOutcome::Success);
            Ok(SignIn::Welcome(user))
        }
        _ => {
            let failures = throttle::record_failure(&state.db, &lock_key, now).await?;
            state.metrics.sign_in(SignInOutcome::Refused);
            if crate::domain::lockout::lock_after(failures).is_some() {
                state.metrics.lock_set();
            }
            let subject = user.as_ref().map(|u| u.id);
            let mut detail = format!("{failures} consecutive failures");
            if subject.is_none() {
                detail.push_str(", unknown account");
            }
            audit::record(
                &state.db.pool,
                Entry {
                    actor: None,
                    subject,
                    event: Event::SignInFailed,
                    detail,
                    ip: Some(ip),
                },
                now,
            )
            .await?;
            Ok(SignIn::Refused)
        }
    }
}

/// A new browser session for `user_id` (a new id every time: no fixation), replacing the
/// one whose token the browser still had. Returns the token for the cookie; the database
/// keeps only its digest.
pub async fn start_session(
    state: &Services,
    user_id: UserId,
    replaced_token: Option<&str>,
    ip: &str,
) -> AppResult<String> {
    let token = random_token().map_err(AppError::internal)?;
    let csrf = random_token().map_err(AppError::internal)?;
    if let Some(old) = replaced_token {
        sessions::delete(&state.db, &token_digest(old)).await?;
    }
    sessions::insert(
        &state.db.pool,
        NewSession {
            id_hash: &token_digest(&token),
            user_id,
            csrf_token: &csrf,
            now: state.now(),
            ip: Some(ip),
        },
    )
    .await?;
    Ok(token)
}

/// Ends the session with this digest.
pub async fn sign_out(state: &Services, session_digest: &str, actor: Actor<'_>) -> AppResult<()> {
    sessions::delete(&state.db, session_digest).await?;
    audit::record(
        &state.db.pool,
        actor.entry(actor.user_id, Event::SignOut, String::new()),
        state.now(),
    )
    .await?;
    Ok(())
}

/// Ends every browser session of the acting user, the current one included.
pub async fn sign_out_everywhere(state: &Services, actor: Actor<'_>) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    let ended = sessions::delete_for_user(&mut *tx, actor.user_id, None).await?;
    audit::record(
        &mut *tx,
        actor.entry(
            actor.user_id,
            Event::SessionsEnded,
            format!("{ended} browser sessions ended by the user"),
        ),
        state.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
