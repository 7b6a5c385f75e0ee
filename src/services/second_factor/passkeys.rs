//! Passkeys and security keys (WebAuthn through `webauthn-rs`). The relying party is the
//! host of `public_url` (`localhost` when unset). A ceremony has two requests: the server's
//! half of it is kept in the session row in between, and taken out (used once) by the
//! second.

use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use super::super::credentials::Actor;
use super::super::Services;
use super::{admit, conclude, drop_codes_if_no_factor, Proof, Purpose, Step};
use crate::config::Settings;
use crate::domain::{Name, PasskeyId, UserId};
use crate::error::{AppError, AppResult};
use crate::store::audit::{self, Event};
use crate::store::second_factors::{self, NewPasskey, PasskeyRow};
use crate::store::sessions;
use crate::store::users::UserRow;

/// The relying party of this installation.
pub fn relying_party(settings: &Settings) -> anyhow::Result<Webauthn> {
    let origin = match &settings.public_url {
        Some(url) => url.clone(),
        None => Url::parse("http://localhost")?,
    };
    let host = origin
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("public_url has no host"))?
        .to_owned();
    let builder = WebauthnBuilder::new(&host, &origin)?.rp_name("Mailkeys");
    // On localhost (development, tests) the port is whatever the listener got.
    let builder = builder.allow_any_port(host == "localhost");
    Ok(builder.build()?)
}

/// The server's half of a ceremony under way, kept in the session row.
#[derive(Serialize, Deserialize)]
enum Ceremony {
    Register(PasskeyRegistration),
    Authenticate(PasskeyAuthentication),
}

async fn keep(state: &Services, session: &str, ceremony: &Ceremony) -> AppResult<()> {
    let json = serde_json::to_string(ceremony).map_err(AppError::internal)?;
    sessions::set_challenge(&state.db, session, Some(&json)).await?;
    Ok(())
}

async fn take(state: &Services, session: &str) -> AppResult<Option<Ceremony>> {
    let Some(json) = sessions::take_challenge(&state.db, session).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_str(&json).ok())
}

/// The WebAuthn user handle of an account: its id, which reveals nothing else.
fn handle(user: UserId) -> Uuid {
    Uuid::from_u64_pair(0, user.get().unsigned_abs())
}

fn stored(rows: &[PasskeyRow]) -> Vec<(PasskeyId, Passkey)> {
    rows.iter()
        .filter_map(|row| Some((row.id, serde_json::from_str(&row.passkey).ok()?)))
        .collect()
}

const CEREMONY_GONE: AppError =
    AppError::Forbidden("That passkey request expired or was already used. Try again.");

/// The options for `navigator.credentials.create`, to add a passkey to `user`'s account.
pub async fn registration_options(
    state: &Services,
    user: &UserRow,
    session: &str,
) -> AppResult<CreationChallengeResponse> {
    let existing = stored(&second_factors::passkeys_of(&state.db, user.id).await?);
    let exclude = existing.iter().map(|(_, p)| p.cred_id().clone()).collect();
    let (options, registration) = state
        .webauthn
        .start_passkey_registration(handle(user.id), &user.email, &user.email, Some(exclude))
        .map_err(AppError::internal)?;
    keep(state, session, &Ceremony::Register(registration)).await?;
    Ok(options)
}

/// Stores the passkey the browser made. Returns the new set of recovery codes when this
/// is the account's first second factor, `Err` with the reason when it is refused.
pub async fn register(
    state: &Services,
    actor: Actor<'_>,
    session: &str,
    name: &Name,
    credential: &RegisterPublicKeyCredential,
) -> AppResult<Option<Vec<String>>> {
    let Some(Ceremony::Register(registration)) = take(state, session).await? else {
        return Err(CEREMONY_GONE);
    };
    let passkey = state
        .webauthn
        .finish_passkey_registration(credential, &registration)
        .map_err(|_| AppError::Forbidden("The browser's answer did not verify."))?;
    let credential_id = serde_json::to_string(passkey.cred_id()).map_err(AppError::internal)?;
    let json = serde_json::to_string(&passkey).map_err(AppError::internal)?;
    let user = actor.user_id;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let first = !second_factors::has_factor(&mut *tx, user).await?;
    let new = NewPasskey {
        user,
        name: name.as_str(),
        credential_id: &credential_id,
        passkey: &json,
        now,
    };
    second_factors::passkey_insert(&mut *tx, new).await?;
    let codes = if first {
        Some(super::recovery::new_set(state, &mut tx, user).await?)
    } else {
        None
    };
    sessions::set_verified(&mut *tx, session, now).await?;
    let detail = format!("passkey \"{}\"", name.as_str());
    audit::record(
        &mut *tx,
        actor.entry(user, Event::SecondFactorAdded, detail),
        now,
    )
    .await?;
    let notice = crate::services::notices::Notice::SecondFactorAdded {
        factor: crate::services::notices::SecondFactor::Passkey,
    };
    crate::services::notices::enqueue_for(state, &mut tx, user, &notice, Some(actor.ip)).await?;
    tx.commit().await?;
    Ok(codes)
}

/// The options for `navigator.credentials.get` with `user`'s passkeys, for signing in or
/// re-authenticating in `session`.
pub async fn assertion_options(
    state: &Services,
    user: &UserRow,
    session: &str,
) -> AppResult<RequestChallengeResponse> {
    let passkeys: Vec<Passkey> = stored(&second_factors::passkeys_of(&state.db, user.id).await?)
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    if passkeys.is_empty() {
        return Err(AppError::NotFound);
    }
    let (options, authentication) = state
        .webauthn
        .start_passkey_authentication(&passkeys)
        .map_err(AppError::internal)?;
    keep(state, session, &Ceremony::Authenticate(authentication)).await?;
    Ok(options)
}

/// Checks the browser's passkey answer for `purpose`, counted like a password attempt.
pub async fn check_assertion(
    state: &Services,
    user: &UserRow,
    session: &str,
    answer: &PublicKeyCredential,
    purpose: Purpose<'_>,
    ip: &str,
) -> AppResult<Step> {
    let attempt = match admit(state, user, ip).await? {
        Ok(attempt) => attempt,
        Err(wait_secs) => return Ok(Step::Locked { wait_secs }),
    };
    let proof = match take(state, session).await? {
        Some(Ceremony::Authenticate(authentication)) => {
            verify(state, user, answer, &authentication).await?
        }
        _ => None,
    };
    conclude(state, attempt, user, purpose, proof, ip).await
}

async fn verify(
    state: &Services,
    user: &UserRow,
    answer: &PublicKeyCredential,
    authentication: &PasskeyAuthentication,
) -> AppResult<Option<Proof>> {
    let Ok(result) = state
        .webauthn
        .finish_passkey_authentication(answer, authentication)
    else {
        return Ok(None);
    };
    for (id, mut passkey) in stored(&second_factors::passkeys_of(&state.db, user.id).await?) {
        if passkey.update_credential(&result).is_some() {
            let json = serde_json::to_string(&passkey).map_err(AppError::internal)?;
            second_factors::passkey_used(&state.db.pool, id, &json, state.now()).await?;
            return Ok(Some(Proof::Passkey));
        }
    }
    Ok(None)
}

/// Removes one of the actor's passkeys (and the recovery codes when no factor is left).
/// The caller has re-authenticated the user.
pub async fn remove(state: &Services, actor: Actor<'_>, id: PasskeyId) -> AppResult<()> {
    let user = actor.user_id;
    let mut tx = state.db.begin().await?;
    if second_factors::passkey_delete(&mut *tx, user, Some(id)).await? == 0 {
        return Err(AppError::NotFound);
    }
    drop_codes_if_no_factor(&mut tx, user).await?;
    audit::record(
        &mut *tx,
        actor.entry(user, Event::SecondFactorRemoved, format!("passkey {id}")),
        state.now(),
    )
    .await?;
    let notice = crate::services::notices::Notice::SecondFactorRemoved {
        factor: crate::services::notices::SecondFactor::Passkey,
    };
    crate::services::notices::enqueue_for(state, &mut tx, user, &notice, Some(actor.ip)).await?;
    tx.commit().await?;
    Ok(())
}
