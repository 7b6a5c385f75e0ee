//! Bearer tokens of the JSON API: an admin creates one (shown once; only its SHA-256 is
//! kept, as for sessions and invitation links: the token carries 256 random bits, so no
//! slow hash is needed), lists and revokes them. A token acts with its creator's standing
//! as it is now: it stops working when the creator is disabled, is no longer an admin, or
//! owes a new main password (the compromise response requires one).

use secrecy::SecretString;

use super::credentials::By;
use super::Services;
use crate::domain::api_token::{ApiScope, ApiTokenName};
use crate::error::{AppError, AppResult};
use crate::infra::random::{random_token, token_digest};
use crate::store::api_tokens::{self, ApiTokenRow, NewApiToken};
use crate::store::audit::{self, Event};
use crate::store::users::{self, UserRow};

/// What every token starts with, so that a leaked one is recognised (secret scanners, logs).
pub const PREFIX: &str = "mk_";

/// A use is recorded at most this often per token and address.
pub const TOUCH_EVERY_SECS: i64 = 60;

/// A new token: shown once, never stored.
pub struct CreatedToken {
    pub id: i64,
    pub token: SecretString,
    pub expires_at: Option<i64>,
}

/// Creates a token acting as `owner`, an admin: the acting admin's own from the web, any
/// admin's at the command line.
pub async fn create<'a>(
    state: &Services,
    owner: &UserRow,
    name: &ApiTokenName,
    scope: ApiScope,
    days: Option<u32>,
    by: impl Into<By<'a>>,
) -> AppResult<CreatedToken> {
    let by = by.into();
    let for_self_or_operator = match by {
        By::Person(actor) => actor.user_id == owner.id,
        By::CommandLine => true,
    };
    if !for_self_or_operator || !owner.role().is_admin() || owner.disabled {
        return Err(AppError::Forbidden(
            "API tokens are made for an active admin, by that admin or on the host.",
        ));
    }
    let creator = owner.id;
    let token = format!("{PREFIX}{}", random_token().map_err(AppError::internal)?);
    let now = state.now();
    let expires_at = days.map(|d| now + i64::from(d) * 86_400);
    let mut tx = state.db.begin().await?;
    let id = api_tokens::insert(
        &mut *tx,
        NewApiToken {
            name: name.as_str(),
            token_hash: &token_digest(&token),
            read_write: scope == ApiScope::ReadWrite,
            created_by: creator,
            now,
            expires_at,
        },
    )
    .await?;
    let lifetime = days.map_or("no expiry".to_owned(), |d| format!("expires in {d} days"));
    let detail = format!(
        "API token “{}” of {} ({}, {lifetime})",
        name.as_str(),
        owner.email,
        scope.as_str()
    );
    audit::record(
        &mut *tx,
        by.entry_about_none(Event::ApiTokenCreated, detail),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedToken {
        id,
        token: SecretString::from(token),
        expires_at,
    })
}

pub async fn list(state: &Services) -> AppResult<Vec<ApiTokenRow>> {
    Ok(api_tokens::list(&state.db).await?)
}

/// The token `id`, live or not, for its confirmation page.
pub async fn find(state: &Services, id: i64) -> AppResult<ApiTokenRow> {
    api_tokens::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// Revokes a token; false if it was revoked already (a second click changes nothing and
/// audits nothing). Any admin may revoke any token: revoking only takes access away, and a
/// leaked token must be stoppable by whoever sees it first.
pub async fn revoke<'a>(state: &Services, id: i64, by: impl Into<By<'a>>) -> AppResult<bool> {
    let by = by.into();
    if !by.role().is_admin() {
        return Err(AppError::Forbidden("Only admins can revoke API tokens."));
    }
    let token = find(state, id).await?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    if !api_tokens::revoke(&mut *tx, id, by.user_id(), now).await? {
        return Ok(false);
    }
    let detail = format!(
        "API token “{}” of {} revoked",
        token.name, token.creator_email
    );
    audit::record(
        &mut *tx,
        by.entry_about_none(Event::ApiTokenRevoked, detail),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// A token that may be used now, and its creator as the account is now.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub token: ApiTokenRow,
    pub creator: UserRow,
}

impl Authenticated {
    pub fn scope(&self) -> ApiScope {
        ApiScope::of(self.token.read_write)
    }
}

/// The token presented as a bearer, if it exists, is not revoked or expired and its creator
/// still stands as an admin; records its use from `ip` (at most once a minute).
pub async fn authenticate(
    state: &Services,
    presented: &str,
    ip: &str,
) -> AppResult<Option<Authenticated>> {
    if !presented.starts_with(PREFIX) {
        return Ok(None);
    }
    let Some(token) = api_tokens::by_digest(&state.db, &token_digest(presented)).await? else {
        return Ok(None);
    };
    let now = state.now();
    if token.revoked_at.is_some() || token.expires_at.is_some_and(|at| at <= now) {
        return Ok(None);
    }
    let Some(creator) = users::find_by_id(&state.db, token.created_by).await? else {
        return Ok(None);
    };
    if creator.disabled || creator.must_reset || !creator.role().is_admin() {
        return Ok(None);
    }
    let recent = token
        .last_used_at
        .is_some_and(|at| now - at < TOUCH_EVERY_SECS)
        && token.last_used_ip.as_deref() == Some(ip);
    if !recent {
        api_tokens::touch(&state.db, token.id, now, ip, now - TOUCH_EVERY_SECS).await?;
    }
    Ok(Some(Authenticated { token, creator }))
}
