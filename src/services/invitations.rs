//! Creating accounts by invitation: an admin (or the operator) names the address, Mailkeys
//! makes a link that works once and expires, shown once; the new user opens it and chooses
//! the main password (`services::users::create`, so the same policy and audit apply).

use secrecy::SecretString;

use super::credentials::By;
use super::users::{self as accounts, NewAccount, NotCreated, Origin};
use super::Services;
use crate::domain::{UserId, Username};
use crate::error::{AppError, AppResult};
use crate::infra::random::{random_token, token_digest};
use crate::store::audit::{self, Event};
use crate::store::invitations::{self, Invitation, NewInvitation};
use crate::store::users;

/// How long an invitation link works.
pub const VALID_SECS: i64 = 7 * 24 * 60 * 60;

/// A new invitation: its link's token (shown once, never stored) and when it expires.
pub struct Invited {
    pub token: SecretString,
    pub expires_at: i64,
}

/// Why no invitation was made.
#[derive(Debug, thiserror::Error)]
pub enum NotInvited {
    #[error("An account with this email address exists already.")]
    Exists,
}

/// Invites `email` (an admin if `admin`, which only a superadmin may grant). An earlier
/// unused invitation of the address stops working.
pub async fn invite<'a>(
    state: &Services,
    email: &Username,
    admin: bool,
    by: impl Into<By<'a>>,
) -> AppResult<Result<Invited, NotInvited>> {
    let by = by.into();
    if !by.role().is_admin() {
        return Err(AppError::Forbidden("Only admins can invite."));
    }
    if admin && !by.role().may_change_roles() {
        return Err(AppError::Forbidden(
            "Only a superadmin can invite an admin.",
        ));
    }
    if users::find_with_hash(&state.db, email.as_str())
        .await?
        .is_some()
    {
        return Ok(Err(NotInvited::Exists));
    }
    let token = random_token().map_err(AppError::internal)?;
    let now = state.now();
    let expires_at = now + VALID_SECS;
    let mut tx = state.db.begin().await?;
    invitations::retire_for(&mut *tx, email.as_str(), now).await?;
    invitations::insert(
        &mut *tx,
        NewInvitation {
            token_hash: &token_digest(&token),
            email: email.as_str(),
            is_admin: admin,
            created_by: by.user_id(),
            now,
            expires_at,
        },
    )
    .await?;
    let role = if admin { "admin" } else { "user" };
    let entry = by.entry_about_none(
        Event::InvitationCreated,
        format!("{email} invited as {role}, link valid 7 days"),
    );
    audit::record(&mut *tx, entry, now).await?;
    tx.commit().await?;
    Ok(Ok(Invited {
        token: SecretString::from(token),
        expires_at,
    }))
}

/// The invitation behind a link's token, while it can be used.
pub async fn open(state: &Services, token: &str) -> AppResult<Invitation> {
    invitations::usable(&state.db, &token_digest(token), state.now())
        .await?
        .ok_or(AppError::LinkExpired)
}

/// Creates the invited account with the chosen password; the link is used up with it.
pub async fn accept(
    state: &Services,
    token: &str,
    password: SecretString,
    ip: &str,
) -> AppResult<Result<UserId, NotCreated>> {
    let invitation = open(state, token).await?;
    let email = Username::parse(&invitation.email).map_err(AppError::internal)?;
    let digest = token_digest(token);
    let new = NewAccount {
        email,
        password,
        admin: invitation.is_admin,
    };
    accounts::create(
        state,
        new,
        Origin::Invitation {
            digest: &digest,
            ip,
        },
    )
    .await
}
