//! What an admin (or the operator at the command line) does to an account: end its
//! sessions, switch its flags, and the one-step response to a compromised account. Revoking
//! its app passwords is `credentials::revoke_one` / `revoke_all` with the admin as actor.

use super::credentials::{sync_mail_server, By};
use super::notices::{self, Notice};
use super::Services;
use crate::domain::Role;
use crate::dovecot::doveadm::SessionSync;
use crate::error::{AppError, AppResult};
use crate::store::app_passwords;
use crate::store::audit::{self, Event};
use crate::store::sessions::{self, SessionRow};
use crate::store::users::{self, AdminFlag, UserRow};

/// Ends every browser session of `owner` (but `keep`, the acting admin's own when it is
/// their account) and kicks its IMAP sessions.
pub async fn end_sessions<'a>(
    state: &Services,
    owner: &UserRow,
    keep: Option<&str>,
    by: impl Into<By<'a>>,
) -> AppResult<SessionSync> {
    let by = by.into();
    by.ensure_may_act_on(owner)?;
    let mut tx = state.db.begin().await?;
    let ended = sessions::delete_for_user(&mut *tx, owner.id, keep).await?;
    audit::record(
        &mut *tx,
        by.entry(
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

/// Switches an admin flag of `owner`. Disabling the account or requiring a new password
/// ends every browser session (whoever holds one may be the reason for the flag); switching
/// anything on ends the IMAP sessions it now forbids. An admin cannot disable themself.
pub async fn set_flag<'a>(
    state: &Services,
    owner: &UserRow,
    flag: AdminFlag,
    on: bool,
    by: impl Into<By<'a>>,
) -> AppResult<SessionSync> {
    let by = by.into();
    if by.user_id() == Some(owner.id) && flag != AdminFlag::MainImapBlocked && on {
        return Err(AppError::Forbidden(
            "You cannot do this to your own account from here: ask another admin, or use the command line.",
        ));
    }
    by.ensure_may_act_on(owner)?;
    let mut tx = state.db.begin().await?;
    if flag == AdminFlag::Disabled
        && on
        && owner.is_superadmin
        && users::other_superadmins(&mut tx, state.db.backend, owner.id).await? == 0
    {
        return Err(AppError::Forbidden(
            "This is the last superadmin: make another account superadmin first.",
        ));
    }
    users::set_admin_flag(&mut *tx, owner.id, flag, on).await?;
    let mut detail = String::new();
    if on && matches!(flag, AdminFlag::Disabled | AdminFlag::MustReset) {
        let ended = sessions::delete_for_user(&mut *tx, owner.id, None).await?;
        detail = format!("{ended} browser sessions ended");
    }
    audit::record(
        &mut *tx,
        by.entry(owner.id, event_of(flag, on), detail),
        state.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(sync_mail_server(state, owner, on).await)
}

/// What the compromised-account response did, step by step, for the page, the API and the
/// command line to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CompromiseReport {
    /// Live app passwords revoked.
    pub app_passwords_revoked: u64,
    /// Browser sessions ended.
    pub web_sessions_ended: u64,
    /// A new main password is now required (always true once the response ran).
    pub new_password_required: bool,
    /// What Dovecot did: cache flushed and live IMAP sessions ended, or why not.
    pub mail_server: SessionSync,
}

/// The response to a compromised account, in one step: revokes every app password, ends
/// every browser session, requires a new main password (which also blocks new app
/// passwords until it is set), all in one transaction with one audit entry carrying the
/// reason; then flushes Dovecot's cache and ends live IMAP sessions where doveadm is
/// configured. Running it again is harmless (nothing is left to revoke). An admin cannot
/// run it on their own account from the web (it would lock them out mid-response).
pub async fn compromised<'a>(
    state: &Services,
    owner: &UserRow,
    by: impl Into<By<'a>>,
    reason: &str,
) -> AppResult<CompromiseReport> {
    let by = by.into();
    if by.user_id() == Some(owner.id) {
        return Err(AppError::Forbidden(
            "You cannot mark your own account compromised from here: ask another admin, or use `mailkeys user compromised` on the host.",
        ));
    }
    by.ensure_may_act_on(owner)?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let revocation = by.revocation(owner, reason, now);
    let revoked = app_passwords::revoke_all(&mut *tx, &revocation).await?;
    let ended = sessions::delete_for_user(&mut *tx, owner.id, None).await?;
    users::set_admin_flag(&mut *tx, owner.id, AdminFlag::MustReset, true).await?;
    let detail = format!(
        "reason {reason:?}: {revoked} app passwords revoked, {ended} browser sessions ended, new main password required"
    );
    audit::record(
        &mut *tx,
        by.entry(owner.id, Event::AccountCompromised, detail),
        now,
    )
    .await?;
    if revoked > 0 {
        let notice = Notice::AllAppPasswordsRevokedByAdmin { count: revoked };
        notices::enqueue(state, &mut tx, owner, &notice, by.ip()).await?;
    }
    tx.commit().await?;
    let mail_server = sync_mail_server(state, owner, true).await;
    Ok(CompromiseReport {
        app_passwords_revoked: revoked,
        web_sessions_ended: ended,
        new_password_required: true,
        mail_server,
    })
}

/// How long after signing in an admin may act destructively without typing their password
/// again: long enough for one incident, short enough that a browser left open is not a
/// standing authorisation.
pub const RECENT_SIGN_IN_SECS: i64 = 5 * 60;

/// Whether a sign-in at `signed_in_at` is recent enough to skip the password re-check.
pub fn signed_in_recently(state: &Services, signed_in_at: i64) -> bool {
    state.now() - signed_in_at <= RECENT_SIGN_IN_SECS
}

/// Whether an admin session gave its second factor recently enough for a destructive action
/// (or the account has none): a password typed on the confirmation page proves only half
/// of a sign-in, so an admin with a second factor gives it again (on `/reauth`) once the
/// last time is older than [`RECENT_SIGN_IN_SECS`].
pub fn factor_given_recently(state: &Services, session: &SessionRow) -> bool {
    !session.has_factor || state.now() - session.verified_at <= RECENT_SIGN_IN_SECS
}

/// Why a destructive action was refused for want of a recent second factor.
pub const FACTOR_AGAIN: &str = "You gave your second factor more than 5 minutes ago: give it again on /reauth?then=admin, then confirm the action again. Nothing was changed.";

/// Why an admin's password re-check failed.
#[derive(Debug, PartialEq, Eq)]
pub enum Recheck {
    Wrong,
    Locked { wait_secs: i64 },
}

/// Checks an admin's own password before a destructive action. It is a guessing path like
/// the sign-in form, so it shares its counts and locks, decided before any hashing.
pub async fn recheck_password(
    state: &Services,
    admin: &UserRow,
    typed: secrecy::SecretString,
    ip: &str,
) -> AppResult<Result<(), Recheck>> {
    use super::attempts::{self, Admission};
    let attempt = match attempts::admit(state, &admin.email, ip).await? {
        Admission::Granted(attempt) => attempt,
        Admission::Locked { wait_secs } => return Ok(Err(Recheck::Locked { wait_secs })),
    };
    let stored = users::password_hash(&state.db, admin.id).await?;
    let ok = state
        .hasher
        .verify(typed, stored)
        .await
        .map_err(AppError::internal)?;
    if !ok {
        audit::record(
            &state.db.pool,
            audit::Entry {
                actor: Some(admin.id),
                subject: Some(admin.id),
                event: Event::SignInFailed,
                detail: "wrong password when confirming an admin action".into(),
                ip: Some(ip),
            },
            state.now(),
        )
        .await?;
        return Ok(Err(Recheck::Wrong));
    }
    let mut tx = state.db.begin().await?;
    attempt.succeeded(&mut tx).await?;
    tx.commit().await?;
    Ok(Ok(()))
}

/// Grants or removes admin rights: only a superadmin (or the operator at the command line)
/// may, and the last superadmin keeps the role. Ends the account's browser sessions when its
/// standing drops, so that pages held open lose their admin forms.
pub async fn set_role<'a>(
    state: &Services,
    owner: &UserRow,
    role: Role,
    by: impl Into<By<'a>>,
) -> AppResult<()> {
    let by = by.into();
    if !by.role().may_change_roles() {
        return Err(AppError::Forbidden(
            "Only a superadmin can grant or remove admin rights.",
        ));
    }
    let before = owner.role();
    let mut tx = state.db.begin().await?;
    if before == Role::Superadmin
        && role != Role::Superadmin
        && users::other_superadmins(&mut tx, state.db.backend, owner.id).await? == 0
    {
        return Err(AppError::Forbidden(
            "This is the last superadmin: make another account superadmin first.",
        ));
    }
    users::set_role(
        &mut *tx,
        owner.id,
        role.is_admin(),
        role == Role::Superadmin,
    )
    .await?;
    if role < before {
        sessions::delete_for_user(&mut *tx, owner.id, None).await?;
    }
    let detail = format!("{before} → {role}");
    audit::record(
        &mut *tx,
        by.entry(owner.id, Event::RoleChanged, detail),
        state.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
