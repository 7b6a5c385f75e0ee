//! What an admin does to an account: end its sessions, switch its flags. Revoking its app
//! passwords is `credentials::revoke_one` / `revoke_all` with the admin as actor.

use super::credentials::{sync_mail_server, Actor};
use super::Services;
use crate::dovecot::doveadm::SessionSync;
use crate::error::{AppError, AppResult};
use crate::store::audit::{self, Event};
use crate::store::sessions;
use crate::store::users::{self, AdminFlag, UserRow};

/// Ends every browser session of `owner` (but `keep`, the acting admin's own when it is
/// their account) and kicks its IMAP sessions.
pub async fn end_sessions(
    state: &Services,
    owner: &UserRow,
    keep: Option<&str>,
    actor: Actor<'_>,
) -> AppResult<SessionSync> {
    let mut tx = state.db.begin().await?;
    let ended = sessions::delete_for_user(&mut *tx, owner.id, keep).await?;
    audit::record(
        &mut *tx,
        actor.entry(
            owner.id,
            Event::SessionsEnded,
            format!("{ended} browser sessions ended by an admin"),
        ),
        state.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(sync_mail_server(state, owner, true).await)
}

/// The audit event of switching `flag` on or off.
fn event_of(flag: AdminFlag, on: bool) -> Event {
    match (flag, on) {
        (AdminFlag::Disabled, true) => Event::AccountDisabled,
        (AdminFlag::Disabled, false) => Event::AccountEnabled,
        (AdminFlag::MustReset, true) => Event::ResetRequired,
        (AdminFlag::MustReset, false) => Event::ResetCleared,
        (AdminFlag::MainImapBlocked, true) => Event::MainImapBlocked,
        (AdminFlag::MainImapBlocked, false) => Event::MainImapUnblocked,
    }
}

/// Switches an admin flag of `owner`. Disabling ends every browser session; switching
/// anything on ends the IMAP sessions it now forbids. An admin cannot disable themself.
pub async fn set_flag(
    state: &Services,
    owner: &UserRow,
    flag: AdminFlag,
    on: bool,
    actor: Actor<'_>,
) -> AppResult<SessionSync> {
    if owner.id == actor.user_id && flag == AdminFlag::Disabled {
        return Err(AppError::Forbidden("You cannot disable your own account."));
    }
    let mut tx = state.db.begin().await?;
    users::set_admin_flag(&mut *tx, owner.id, flag, on).await?;
    if flag == AdminFlag::Disabled && on {
        sessions::delete_for_user(&mut *tx, owner.id, None).await?;
    }
    audit::record(
        &mut *tx,
        actor.entry(owner.id, event_of(flag, on), String::new()),
        state.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(sync_mail_server(state, owner, on).await)
}
