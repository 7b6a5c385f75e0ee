//! Credential changes shared by users and admins. Each is one transaction that changes the
//! rows and writes the audit entry together, followed by telling Dovecot (cache flush and
//! session kick) once the change is committed.

use crate::domain::Username;
use crate::dovecot::doveadm::{self, SessionSync};
use crate::error::{AppError, AppResult};
use crate::store::app_passwords::{self, Revocation};
use crate::store::audit::{self, Entry, Event};
use crate::store::users::UserRow;
use crate::web::AppState;

/// Who is acting, from where.
pub struct Actor<'a> {
    pub user_id: i64,
    pub ip: &'a str,
}

/// Flushes Dovecot's cache for `owner` and, if `kick`, ends their live IMAP sessions.
pub async fn sync_mail_server(state: &AppState, owner: &UserRow, kick: bool) -> SessionSync {
    match Username::parse(&owner.email) {
        Ok(user) => doveadm::end_sessions(state.doveadm.as_ref(), &user, kick).await,
        Err(_) => SessionSync::Failed,
    }
}

/// Revokes one live app password of `owner`. `NotFound` if it is not theirs or not live.
pub async fn revoke_one(
    state: &AppState,
    owner: &UserRow,
    id: i64,
    actor: Actor<'_>,
    reason: &str,
) -> AppResult<SessionSync> {
    let row = app_passwords::find_for_user(&state.db, owner.id, id).await?;
    let Some(row) = row.filter(|r| r.revoked_at.is_none()) else {
        return Err(AppError::NotFound);
    };
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let revocation = Revocation {
        user_id: owner.id,
        by: actor.user_id,
        reason,
        now,
    };
    if !app_passwords::revoke(&mut *tx, id, &revocation).await? {
        return Err(AppError::NotFound);
    }
    let detail = format!(
        "id {id}, name {:?}, lookup id {}, reason {reason:?}",
        row.name, row.lookup_id
    );
    audit::record(
        &mut *tx,
        Entry {
            actor: Some(actor.user_id),
            subject: Some(owner.id),
            event: Event::AppPasswordRevoked,
            detail,
            ip: Some(actor.ip),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    // Dovecot can only end sessions per user, not per credential: the owner's other devices
    // reconnect by themselves with their own passwords; the revoked one cannot.
    Ok(sync_mail_server(state, owner, true).await)
}

/// Revokes every live app password of `owner`; returns how many and what Dovecot did.
pub async fn revoke_all(
    state: &AppState,
    owner: &UserRow,
    actor: Actor<'_>,
    reason: &str,
) -> AppResult<(u64, SessionSync)> {
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let count = app_passwords::revoke_all(
        &mut *tx,
        &Revocation {
            user_id: owner.id,
            by: actor.user_id,
            reason,
            now,
        },
    )
    .await?;
    let detail = format!("{count} revoked, reason {reason:?}");
    audit::record(
        &mut *tx,
        Entry {
            actor: Some(actor.user_id),
            subject: Some(owner.id),
            event: Event::AllAppPasswordsRevoked,
            detail,
            ip: Some(actor.ip),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((count, sync_mail_server(state, owner, true).await))
}

/// A free-text reason, cut to a sane size and stripped of control characters.
pub fn clean_reason(reason: &str) -> String {
    reason
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect::<String>()
        .trim()
        .to_owned()
}
