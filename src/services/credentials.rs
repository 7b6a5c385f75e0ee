//! App passwords: create, change limits, revoke one or all, for users and admins alike.
//! Each is one transaction that changes the rows and writes the audit entry together,
//! followed by telling Dovecot (session kick, and cache flush where it can) once the change
//! is committed.

use secrecy::SecretString;

use crate::domain::app_password::AllowedNets;
use crate::domain::{AppPasswordId, AppPasswordName, ExpiryChoice, Scope, Text, Username};
use crate::dovecot::doveadm::{self, SessionSync};
use crate::error::{AppError, AppResult};
use crate::infra::hashing::Profile;
use crate::services::notices::{self, Notice};
use crate::services::Services;
use crate::store::app_passwords::{self, NewAppPassword};
use crate::store::audit::{self, Event};
use crate::store::is_unique_violation;
use crate::store::users::UserRow;

pub use super::actor::{Actor, By};

/// Flushes Dovecot's cache for `owner` and, if `kick`, ends their live IMAP sessions.
pub async fn sync_mail_server(state: &Services, owner: &UserRow, kick: bool) -> SessionSync {
    sync_mail_server_of(state.doveadm.as_ref(), &owner.email, kick).await
}

/// [`sync_mail_server`] for the account `email`, through `doveadm` (for callers that run
/// several at once and hold their own handle).
pub async fn sync_mail_server_of(
    doveadm: Option<&doveadm::Doveadm>,
    email: &str,
    kick: bool,
) -> SessionSync {
    match Username::parse(email) {
        Ok(user) => doveadm::end_sessions(doveadm, &user, kick).await,
        Err(_) => SessionSync::Failed,
    }
}

/// Revokes one live app password of `owner`. `NotFound` if it is not theirs or not live.
pub async fn revoke_one<'a>(
    state: &Services,
    owner: &UserRow,
    id: AppPasswordId,
    by: impl Into<By<'a>>,
    reason: &str,
) -> AppResult<SessionSync> {
    let by = by.into();
    by.ensure_may_act_on(owner)?;
    let row = app_passwords::find_for_user(&state.db, owner.id, id).await?;
    let Some(row) = row.filter(|r| r.revoked_at.is_none()) else {
        return Err(AppError::NotFound);
    };
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let revocation = by.revocation(owner, reason, now);
    if !app_passwords::revoke(&mut *tx, id, &revocation).await? {
        return Err(AppError::NotFound);
    }
    // Plain words (the account page shows them): the name as typed, never Debug-escaped.
    let detail = format!(
        "“{}” (starts with {}){}",
        row.name,
        row.lookup_id,
        reason_words(reason)
    );
    audit::record(
        &mut *tx,
        by.entry(owner.id, Event::AppPasswordRevoked, detail),
        now,
    )
    .await?;
    if by.user_id() != Some(owner.id) {
        let notice = Notice::AppPasswordRevokedByAdmin { name: row.name };
        notices::enqueue(state, &mut tx, owner, &notice, by.ip()).await?;
    }
    tx.commit().await?;
    // Dovecot can only end sessions per user, not per credential: the owner's other devices
    // reconnect by themselves with their own passwords; the revoked one cannot.
    Ok(sync_mail_server(state, owner, true).await)
}

/// Revokes every live app password of `owner`; returns how many and what Dovecot did.
pub async fn revoke_all<'a>(
    state: &Services,
    owner: &UserRow,
    by: impl Into<By<'a>>,
    reason: &str,
) -> AppResult<(u64, SessionSync)> {
    let by = by.into();
    by.ensure_may_act_on(owner)?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let count = app_passwords::revoke_all(&mut *tx, &by.revocation(owner, reason, now)).await?;
    let detail = format!(
        "{count} app password{}{}",
        if count == 1 { "" } else { "s" },
        reason_words(reason)
    );
    audit::record(
        &mut *tx,
        by.entry(owner.id, Event::AllAppPasswordsRevoked, detail),
        now,
    )
    .await?;
    if by.user_id() != Some(owner.id) && count > 0 {
        let notice = Notice::AllAppPasswordsRevokedByAdmin { count };
        notices::enqueue(state, &mut tx, owner, &notice, by.ip()).await?;
    }
    tx.commit().await?;
    Ok((count, sync_mail_server(state, owner, true).await))
}

/// `, reason: lost it`, or nothing for no reason.
fn reason_words(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(", reason: {reason}")
    }
}

/// A free-text reason (already normalised, so free of control characters), cut to a sane
/// size.
pub fn clean_reason(reason: &Text) -> String {
    reason
        .as_str()
        .chars()
        .take(200)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// A new app password as the user asked for it (already parsed).
pub struct NewPassword {
    pub name: AppPasswordName,
    pub expiry: ExpiryChoice,
    pub scope: Scope,
    pub nets: Option<AllowedNets>,
}

/// A stored app password, with its plaintext: shown once, never kept.
pub struct Created {
    pub id: AppPasswordId,
    pub plaintext: SecretString,
    pub expires_at: Option<i64>,
}

/// Why a new app password was not made, in terms the user can act on.
#[derive(Debug)]
pub enum NotCreated {
    /// The owner has a live app password with this name.
    DuplicateName,
}

/// Lookup ids are random (30 bits); a clash within one user's ids is rare but possible.
const LOOKUP_ID_ATTEMPTS: usize = 5;

/// Generates, hashes and stores an app password for `owner`, with its audit entry.
pub async fn create(
    state: &Services,
    owner: &UserRow,
    new: &NewPassword,
    actor: Actor<'_>,
) -> AppResult<Result<Created, NotCreated>> {
    if owner.must_reset {
        // A credential minted now could be the intruder's: the new main password first.
        return Err(AppError::Forbidden(
            "An admin asked you to choose a new main password: set it on the Account page first.",
        ));
    }
    if app_passwords::name_in_use(&state.db, owner.id, new.name.as_str()).await? {
        return Ok(Err(NotCreated::DuplicateName));
    }
    let now = state.now();
    let expires_at = new.expiry.expires_at(now);
    for _ in 0..LOOKUP_ID_ATTEMPTS {
        let generated = crate::infra::random::new_app_password().map_err(AppError::internal)?;
        let hash = state
            .hasher
            .hash(Profile::App, generated.plaintext.clone())
            .await
            .map_err(AppError::internal)?;
        let mut tx = state.db.begin().await?;
        let inserted = app_passwords::insert(
            &mut *tx,
            NewAppPassword {
                user_id: owner.id,
                name: new.name.as_str(),
                lookup_id: generated.lookup_id.as_str(),
                password_hash: &hash,
                scope: new.scope.as_str(),
                allowed_nets: new.nets.as_ref().map(AllowedNets::as_str),
                now,
                expires_at,
            },
        )
        .await;
        match inserted {
            Ok(id) => {
                let detail = format!(
                    "“{}” (starts with {})",
                    new.name.as_str(),
                    generated.lookup_id.as_str()
                );
                audit::record(
                    &mut *tx,
                    actor.entry(owner.id, Event::AppPasswordCreated, detail),
                    now,
                )
                .await?;
                let notice = Notice::AppPasswordCreated {
                    name: new.name.as_str().to_owned(),
                };
                notices::enqueue(state, &mut tx, owner, &notice, Some(actor.ip)).await?;
                tx.commit().await?;
                return Ok(Ok(Created {
                    id,
                    plaintext: generated.plaintext,
                    expires_at,
                }));
            }
            Err(e) if is_unique_violation(&e) => {
                drop(tx);
                // Either a concurrent request took the name, or the lookup id clashed.
                if app_passwords::name_in_use(&state.db, owner.id, new.name.as_str()).await? {
                    return Ok(Err(NotCreated::DuplicateName));
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::internal(anyhow::anyhow!(
        "no free lookup id after {LOOKUP_ID_ATTEMPTS} attempts"
    )))
}

/// Changes scope and networks of a live app password of `owner`; Dovecot's sessions of the
/// owner are kicked (and its cache flushed where it can be), so a narrower limit applies to
/// connections already open too. `NotFound` if it is not theirs or not live.
pub async fn update_limits(
    state: &Services,
    owner: &UserRow,
    id: AppPasswordId,
    scope: Scope,
    nets: Option<&AllowedNets>,
    actor: Actor<'_>,
) -> AppResult<SessionSync> {
    let Some(row) = app_passwords::find_for_user(&state.db, owner.id, id).await? else {
        return Err(AppError::NotFound);
    };
    let mut tx = state.db.begin().await?;
    if !app_passwords::update_limits(
        &mut *tx,
        owner.id,
        id,
        scope.as_str(),
        nets.map(AllowedNets::as_str),
    )
    .await?
    {
        return Err(AppError::NotFound);
    }
    let detail = format!(
        "“{}” (starts with {}): {}, from {}",
        row.name,
        row.lookup_id,
        scope.label(),
        nets.map_or("anywhere", AllowedNets::as_str)
    );
    audit::record(
        &mut *tx,
        actor.entry(owner.id, Event::AppPasswordLimitsChanged, detail),
        state.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(sync_mail_server(state, owner, true).await)
}

/// Why an app password was not renamed.
#[derive(Debug)]
pub enum NotRenamed {
    /// Another live app password of the owner has this name.
    DuplicateName,
}

/// Renames a live app password of `owner`. The name is only a label: nothing changes for
/// Dovecot or the devices using the password, so no session is touched. `NotFound` if it
/// is not theirs or not live.
pub async fn rename(
    state: &Services,
    owner: &UserRow,
    id: AppPasswordId,
    name: &AppPasswordName,
    actor: Actor<'_>,
) -> AppResult<Result<(), NotRenamed>> {
    let Some(row) = app_passwords::find_for_user(&state.db, owner.id, id)
        .await?
        .filter(|r| r.revoked_at.is_none())
    else {
        return Err(AppError::NotFound);
    };
    if row.name == name.as_str() {
        return Ok(Ok(()));
    }
    let mut tx = state.db.begin().await?;
    match app_passwords::rename(&mut *tx, owner.id, id, name.as_str()).await {
        Ok(true) => {}
        Ok(false) => return Err(AppError::NotFound),
        // The unique index on live names: another live password has it (or just took it).
        Err(e) if is_unique_violation(&e) => return Ok(Err(NotRenamed::DuplicateName)),
        Err(e) => return Err(e.into()),
    }
    let detail = format!(
        "“{}” renamed to “{}” (starts with {})",
        row.name,
        name.as_str(),
        row.lookup_id
    );
    audit::record(
        &mut *tx,
        actor.entry(owner.id, Event::AppPasswordRenamed, detail),
        state.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(()))
}
