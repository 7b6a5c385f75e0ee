//! Notices by mail to an account's own address for every change to its credentials, so
//! that a person whose account was used by someone else learns of it.
//!
//! A notice is queued with [`enqueue`] inside the transaction of the change it reports: a
//! rolled-back change sends nothing, a committed one is never lost, and the request never
//! waits for SMTP. The [`worker`] sends queued notices through the relay (`infra::mail`)
//! and retries with backoff. Without a relay configured nothing is queued at all.
//!
//! A notice's facts never hold a secret (no password, token or code): only what happened,
//! when, and from which address.

pub mod mail;
pub mod worker;

use serde::{Deserialize, Serialize};

use super::Services;
use crate::error::{AppError, AppResult};
use crate::store::notices::{self, NewNotice};
use crate::store::users::UserRow;
use crate::store::Tx;

/// A second factor of the web sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecondFactor {
    AuthenticatorApp,
    Passkey,
    RecoveryCodes,
}

impl SecondFactor {
    fn words(self) -> &'static str {
        match self {
            Self::AuthenticatorApp => "an authenticator app",
            Self::Passkey => "a passkey or security key",
            Self::RecoveryCodes => "recovery codes",
        }
    }
}

/// What a notice reports. Stored as JSON in the queue, so a variant's fields are part of
/// the queue's format: add fields with `#[serde(default)]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// The account made an app password (its name, never its value).
    AppPasswordCreated {
        name: String,
    },
    /// An admin revoked one of the account's app passwords.
    AppPasswordRevokedByAdmin {
        name: String,
    },
    /// An admin revoked every app password of the account.
    AllAppPasswordsRevokedByAdmin {
        count: u64,
    },
    /// The main password was changed.
    PasswordChanged {
        app_passwords_revoked: bool,
    },
    SecondFactorAdded {
        factor: SecondFactor,
    },
    SecondFactorRemoved {
        factor: SecondFactor,
    },
    /// An admin removed every second factor of the account.
    SecondFactorsReset,
    /// A sign-in from a browser or a network the account had not signed in from.
    NewSignIn {
        new_device: bool,
        new_network: bool,
    },
    /// Too many wrong passwords: sign-in is locked for `minutes`.
    AccountLocked {
        minutes: i64,
    },
}

impl Notice {
    /// The name of the variant, as the queue's `kind` column and the admin page show it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::AppPasswordCreated { .. } => "app_password_created",
            Self::AppPasswordRevokedByAdmin { .. } => "app_password_revoked_by_admin",
            Self::AllAppPasswordsRevokedByAdmin { .. } => "all_app_passwords_revoked_by_admin",
            Self::PasswordChanged { .. } => "password_changed",
            Self::SecondFactorAdded { .. } => "second_factor_added",
            Self::SecondFactorRemoved { .. } => "second_factor_removed",
            Self::SecondFactorsReset => "second_factors_reset",
            Self::NewSignIn { .. } => "new_sign_in",
            Self::AccountLocked { .. } => "account_locked",
        }
    }

    pub fn subject(&self) -> String {
        match self {
            Self::AppPasswordCreated { .. } => "A new app password was created".into(),
            Self::AppPasswordRevokedByAdmin { .. } => {
                "An administrator revoked an app password".into()
            }
            Self::AllAppPasswordsRevokedByAdmin { .. } => {
                "An administrator revoked your app passwords".into()
            }
            Self::PasswordChanged { .. } => "Your password was changed".into(),
            Self::SecondFactorAdded { .. } => "A second factor was added to your account".into(),
            Self::SecondFactorRemoved { .. } => {
                "A second factor was removed from your account".into()
            }
            Self::SecondFactorsReset => "An administrator reset your second factors".into(),
            Self::NewSignIn { .. } => "New sign-in to your account".into(),
            Self::AccountLocked { .. } => "Sign-in to your account was locked".into(),
        }
    }

    /// What happened, in a sentence or two.
    pub fn summary(&self) -> String {
        match self {
            Self::AppPasswordCreated { name } => format!(
                "A new app password named \"{name}\" was created for your account. It lets a \
                 mail app read your mail."
            ),
            Self::AppPasswordRevokedByAdmin { name } => format!(
                "An administrator revoked your app password \"{name}\". Mail apps that used it \
                 can no longer sign in."
            ),
            Self::AllAppPasswordsRevokedByAdmin { count } => format!(
                "An administrator revoked all your app passwords ({count}). Your mail apps must \
                 be given new ones."
            ),
            Self::PasswordChanged {
                app_passwords_revoked,
            } => {
                let mut text = String::from(
                    "The main password of your account was changed, and your other web \
                     sessions were ended.",
                );
                if *app_passwords_revoked {
                    text.push_str(" All your app passwords were revoked with it.");
                }
                text
            }
            Self::SecondFactorAdded { factor } => format!(
                "A second factor was added to your account: {}.",
                factor.words()
            ),
            Self::SecondFactorRemoved { factor } => format!(
                "A second factor was removed from your account: {}.",
                factor.words()
            ),
            Self::SecondFactorsReset => "An administrator removed every second factor of your \
                account. Until you set one up again, your password alone signs you in."
                .into(),
            Self::NewSignIn {
                new_device,
                new_network,
            } => {
                let from = match (new_device, new_network) {
                    (true, true) => "a browser and a network",
                    (true, false) => "a browser",
                    _ => "a network",
                };
                format!(
                    "Someone signed in to your account from {from} that had not been used to \
                     sign in to it before."
                )
            }
            Self::AccountLocked { minutes } => format!(
                "Too many wrong passwords were typed for your account, so signing in to it is \
                 locked for {minutes} minute(s). Mail apps using app passwords keep working."
            ),
        }
    }

    /// What to do if it was not the account's owner.
    pub fn advice(&self) -> &'static str {
        match self {
            Self::AppPasswordRevokedByAdmin { .. }
            | Self::AllAppPasswordsRevokedByAdmin { .. }
            | Self::SecondFactorsReset => "If you did not expect this, ask your administrator why.",
            Self::AccountLocked { .. } => {
                "If this was not you, someone may be guessing your password: once the lock ends, \
                 sign in and choose a new, long password."
            }
            _ => {
                "If this was not you, sign in now, change your password, revoke the app passwords \
                 you do not recognise, and tell your administrator."
            }
        }
    }
}

/// Queues `notice` for `user`'s address in `tx`, the transaction of the change it reports
/// (so it is sent if and only if the change is committed). `ip`: where the change came
/// from. Does nothing when no relay is configured.
/// [`enqueue`] for an account known by its id: its address is read in the same transaction.
pub async fn enqueue_for(
    state: &Services,
    tx: &mut Tx,
    user: crate::domain::UserId,
    notice: &Notice,
    ip: Option<&str>,
) -> AppResult<()> {
    if state.settings.smtp_relay_host.is_none() {
        return Ok(());
    }
    let Some(row) = crate::store::users::find_by_id_on(&mut **tx, user).await? else {
        return Ok(());
    };
    enqueue(state, tx, &row, notice, ip).await
}

pub async fn enqueue(
    state: &Services,
    tx: &mut Tx,
    user: &UserRow,
    notice: &Notice,
    ip: Option<&str>,
) -> AppResult<()> {
    if state.settings.smtp_relay_host.is_none() {
        return Ok(());
    }
    let facts = serde_json::to_string(notice).map_err(AppError::internal)?;
    notices::insert(
        &mut **tx,
        NewNotice {
            user_id: user.id,
            recipient: &user.email,
            kind: notice.kind(),
            facts: &facts,
            ip,
            now: state.now(),
        },
    )
    .await?;
    Ok(())
}

/// Whether notices are sent at all (a relay is configured), for the admin page.
pub fn enabled(state: &Services) -> bool {
    state.settings.smtp_relay_host.is_some()
}

/// The queue as the admin page shows it: counts per status and the newest rows.
pub async fn queue(
    state: &Services,
    limit: i64,
) -> AppResult<(Vec<(String, i64)>, Vec<notices::QueueRow>)> {
    Ok((
        notices::counts(&state.db).await?,
        notices::recent(&state.db, limit).await?,
    ))
}
