//! A user's own account: rotating the main password, and whether it may log in over IMAP.

use secrecy::{ExposeSecret, SecretString};

use super::attempts::{self, Admission};
use super::credentials::{sync_mail_server, Actor};
use super::notices::{self, Notice};
use super::Services;
use crate::domain::password_policy::{check_new_password, within_max_length, Rejected};
use crate::domain::Username;
use crate::dovecot::doveadm::SessionSync;
use crate::error::{AppError, AppResult};
use crate::infra::hashing::Profile;
use crate::store::app_passwords::{self, Revocation};
use crate::store::audit::{self, Event};
use crate::store::users::UserRow;
use crate::store::{sessions, users};

/// The change-password form, as typed.
pub struct PasswordChange {
    pub current: SecretString,
    pub new: SecretString,
    pub confirm: SecretString,
    /// Also revoke every app password.
    pub revoke_app_passwords: bool,
}

/// Why a password change was refused; `Display` is the message for the user.
#[derive(Debug, thiserror::Error)]
pub enum ChangeRefused {
    #[error("Your current password is incorrect.")]
    WrongCurrent,
    /// Too many wrong passwords for this account or from this address (sign-in counts too).
    #[error("Too many wrong passwords. Try again in {} minute(s); nothing was changed.", (.wait_secs + 59) / 60)]
    Locked { wait_secs: i64 },
    #[error("The two new passwords differ.")]
    Mismatch,
    #[error("{0}")]
    Policy(#[from] Rejected),
}

/// Checks the current password (a wrong one is audited), then sets the new one, ends every
/// other session of the user (all but `keep_session`, the digest of the one acting), and
/// revokes every app password if asked, in one transaction; then kicks the IMAP sessions.
pub async fn change_password(
    state: &Services,
    user: &UserRow,
    keep_session: &str,
    change: PasswordChange,
    actor: Actor<'_>,
) -> AppResult<Result<SessionSync, ChangeRefused>> {
    let now = state.now();
    if !within_max_length(&change.current) || !within_max_length(&change.new) {
        return Ok(Err(Rejected::TooLong.into()));
    }
    // The current-password field is a guessing path like the sign-in form: it shares its
    // counts and locks, decided before any hashing.
    let attempt = match attempts::admit(state, &user.email, actor.ip).await? {
        Admission::Granted(attempt) => attempt,
        Admission::Locked { wait_secs } => return Ok(Err(ChangeRefused::Locked { wait_secs })),
    };
    let stored = users::password_hash(&state.db, user.id).await?;
    let current_ok = state
        .hasher
        .verify(change.current.clone(), stored)
        .await
        .map_err(AppError::internal)?;
    if !current_ok {
        let mut tx = state.db.begin().await?;
        audit::record(
            &mut *tx,
            actor.entry(
                user.id,
                Event::PasswordChangeFailed,
                "wrong current password",
            ),
            now,
        )
        .await?;
        attempt.failed(state, &mut tx, Some(user), actor.ip).await?;
        tx.commit().await?;
        return Ok(Err(ChangeRefused::WrongCurrent));
    }
    let email = Username::parse(&user.email).map_err(AppError::internal)?;
    if let Err(refused) = check_new(state, &email, &change) {
        // The current password was right: the attempt does not count against the user.
        let mut tx = state.db.begin().await?;
        attempt.succeeded(&mut tx).await?;
        tx.commit().await?;
        return Ok(Err(refused));
    }
    let hash = state
        .hasher
        .hash(Profile::Main, change.new)
        .await
        .map_err(AppError::internal)?;
    let mut tx = state.db.begin().await?;
    attempt.succeeded(&mut tx).await?;
    users::set_password(&mut *tx, user.id, &hash, now).await?;
    let ended = sessions::delete_for_user(&mut *tx, user.id, Some(keep_session)).await?;
    let mut detail = match ended {
        1 => "1 other browser session ended".to_owned(),
        n => format!("{n} other browser sessions ended"),
    };
    if change.revoke_app_passwords {
        let revocation = Revocation {
            user_id: user.id,
            by: Some(actor.user_id),
            reason: "main password rotated",
            now,
        };
        let count = app_passwords::revoke_all(&mut *tx, &revocation).await?;
        let plural = if count == 1 { "" } else { "s" };
        detail.push_str(&format!(", {count} app password{plural} revoked"));
    }
    audit::record(
        &mut *tx,
        actor.entry(user.id, Event::PasswordChanged, detail),
        now,
    )
    .await?;
    let notice = Notice::PasswordChanged {
        app_passwords_revoked: change.revoke_app_passwords,
    };
    notices::enqueue(state, &mut tx, user, &notice, Some(actor.ip)).await?;
    tx.commit().await?;
    Ok(Ok(sync_mail_server(state, user, true).await))
}

/// What is wrong with the new password typed twice, if anything.
fn check_new(
    state: &Services,
    email: &Username,
    change: &PasswordChange,
) -> Result<(), ChangeRefused> {
    if change.new.expose_secret() == change.current.expose_secret() {
        return Err(Rejected::SameAsCurrent.into());
    }
    if change.new.expose_secret() != change.confirm.expose_secret() {
        return Err(ChangeRefused::Mismatch);
    }
    check_new_password(&change.new, state.settings.min_password_length, email)?;
    Ok(())
}

/// Lets the user's main password log in over IMAP, or not. Switching it off also ends the
/// IMAP sessions it may have opened.
pub async fn set_main_imap(
    state: &Services,
    user: &UserRow,
    allowed: bool,
    actor: Actor<'_>,
) -> AppResult<SessionSync> {
    let mut tx = state.db.begin().await?;
    users::set_main_imap_allowed(&mut *tx, user.id, allowed).await?;
    let detail = if allowed {
        "main password allowed for IMAP"
    } else {
        "main password refused for IMAP"
    };
    audit::record(
        &mut *tx,
        actor.entry(user.id, Event::MainImapSetting, detail),
        state.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(sync_mail_server(state, user, !allowed).await)
}
