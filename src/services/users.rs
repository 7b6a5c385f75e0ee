//! Creating accounts: from the command line (`mailkeys user add`) and through the first
//! admin's one-time setup link. One path, so both check the same policy and audit alike.

use secrecy::SecretString;

use super::Services;
use crate::domain::password_policy::{check_new_password, Rejected};
use crate::domain::{UserId, Username};
use crate::error::{AppError, AppResult};
use crate::infra::hashing::Profile;
use crate::store::audit::{self, Entry, Event};
use crate::store::{invitations, is_unique_violation, setup_tokens, users};

/// A new account as asked for (the address already parsed).
pub struct NewAccount {
    pub email: Username,
    pub password: SecretString,
    pub admin: bool,
}

/// Where the account comes from.
pub enum Origin<'a> {
    CommandLine,
    /// The setup link with this token digest, opened from `ip`: used up by this account.
    SetupLink {
        digest: &'a str,
        ip: &'a str,
    },
    /// An admin's invitation with this token digest, opened from `ip`: used up by this
    /// account.
    Invitation {
        digest: &'a str,
        ip: &'a str,
    },
}

/// Why an account was not created; `Display` is the message for the person.
#[derive(Debug, thiserror::Error)]
pub enum NotCreated {
    #[error("An account with this email address exists already.")]
    Exists,
    #[error("{0}")]
    Policy(#[from] Rejected),
}

/// Checks the password policy, hashes, and stores the account with its audit entry; a
/// setup link is consumed (and every other one retired) in the same transaction. Returns
/// the new account's id. `LinkExpired` if the link was used up meanwhile.
pub async fn create(
    state: &Services,
    new: NewAccount,
    origin: Origin<'_>,
) -> AppResult<Result<UserId, NotCreated>> {
    if let Err(e) = check_new_password(
        &new.password,
        state.settings.min_password_length,
        &new.email,
    ) {
        return Ok(Err(e.into()));
    }
    let hash = state
        .hasher
        .hash(Profile::Main, new.password)
        .await
        .map_err(AppError::internal)?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    if let Origin::SetupLink { digest, .. } = origin {
        if !setup_tokens::consume(&mut *tx, digest, now).await? {
            return Err(AppError::LinkExpired);
        }
        // Every other link printed earlier dies with this one.
        setup_tokens::retire_all(&mut *tx, now).await?;
    }
    if let Origin::Invitation { digest, .. } = origin {
        if !invitations::consume(&mut *tx, digest, now).await? {
            return Err(AppError::LinkExpired);
        }
    }
    // The setup link's admin is the superadmin; so is the first admin of an installation
    // set up from the command line, so that someone can always grant admin rights.
    let is_superadmin = new.admin
        && (matches!(origin, Origin::SetupLink { .. }) || !users::any_superadmin(&mut *tx).await?);
    let inserted = users::insert(
        &mut *tx,
        users::NewUser {
            email: new.email.as_str(),
            password_hash: &hash,
            is_admin: new.admin,
            is_superadmin,
            main_imap_allowed: state.settings.main_password_imap_default,
            now,
        },
    )
    .await;
    let id = match inserted {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => return Ok(Err(NotCreated::Exists)),
        Err(e) => return Err(e.into()),
    };
    let entry = match origin {
        Origin::CommandLine => Entry {
            actor: None,
            subject: Some(id),
            event: Event::UserCreated,
            detail: if new.admin {
                "created from the command line, admin".into()
            } else {
                "created from the command line".into()
            },
            ip: None,
        },
        Origin::SetupLink { ip, .. } => Entry {
            actor: Some(id),
            subject: Some(id),
            event: Event::SetupCompleted,
            detail: "first admin created through the setup link".into(),
            ip: Some(ip),
        },
        Origin::Invitation { ip, .. } => Entry {
            actor: Some(id),
            subject: Some(id),
            event: Event::UserCreated,
            detail: "created through an invitation".into(),
            ip: Some(ip),
        },
    };
    audit::record(&mut *tx, entry, now).await?;
    tx.commit().await?;
    Ok(Ok(id))
}
