//! The connection test as a use case: what Mailkeys knows of the typed password (from the
//! user's own rows only), the live check against a configured server, and its audit entry.

use secrecy::SecretString;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Services;
use crate::domain::{AppPasswordStatus, LookupId};
use crate::error::{AppError, AppResult};
use crate::imap::{self, CheckReport, KnownCredential, MailServer, StepEvent};
use crate::store::app_passwords;
use crate::store::audit::{self, Entry, Event};
use crate::store::users::UserRow;

/// What Mailkeys itself knows about the typed password, from `user`'s own rows only.
pub async fn known_credential(
    state: &Services,
    user: &UserRow,
    password: &SecretString,
) -> AppResult<KnownCredential> {
    let now = state.now();
    if let Some(lookup) = LookupId::of_typed_password(password) {
        if let Some(row) =
            app_passwords::find_by_lookup(&state.db, user.id, lookup.as_str()).await?
        {
            return Ok(
                match AppPasswordStatus::of(row.revoked_at, row.expires_at, now) {
                    AppPasswordStatus::Revoked { at } => KnownCredential::RevokedAppPassword { at },
                    AppPasswordStatus::Expired { at } => KnownCredential::ExpiredAppPassword { at },
                    AppPasswordStatus::Live => KnownCredential::ActiveAppPassword {
                        network_limited: row.allowed_nets.is_some(),
                    },
                },
            );
        }
    }
    if !user.main_imap_allowed || user.main_imap_admin_blocked {
        return Ok(KnownCredential::MainPasswordNotAllowed);
    }
    Ok(KnownCredential::Unknown)
}

/// Starts a check of `password` for `user` against the configured server number `server`
/// in a task of its own, which records the outcome in the audit log when it ends, whether
/// or not anyone still listens. Returns the live step events and the task. The caller has
/// checked the rate limits.
pub async fn start(
    state: &Services,
    user: &UserRow,
    ip: &str,
    server: usize,
    password: SecretString,
) -> AppResult<(mpsc::Receiver<StepEvent>, JoinHandle<CheckReport>)> {
    let target: MailServer = state
        .settings
        .check_targets()
        .into_iter()
        .nth(server)
        .ok_or(AppError::NotFound)?;
    let known = known_credential(state, user, &password).await?;
    let (tx, rx) = mpsc::channel(imap::EVENT_CHANNEL_CAPACITY);
    let limits = state.settings.check_limits();
    let (state, user_id, email, ip) = (state.clone(), user.id, user.email.clone(), ip.to_owned());
    let task = tokio::spawn(async move {
        let report = imap::run_check(&target, &email, &password, &limits, tx)
            .await
            .with_known_credential(&known);
        let detail = format!(
            "{}: {} ({} ms)",
            target.name,
            report.verdict.kind(),
            report.total.as_millis()
        );
        let entry = Entry {
            actor: Some(user_id),
            subject: Some(user_id),
            event: Event::ConnectionTest,
            detail,
            ip: Some(&ip),
        };
        if let Err(err) = audit::record(&state.db.pool, entry, state.now()).await {
            tracing::warn!(error = %err, "could not record a connection test in the audit log");
        }
        report
    });
    Ok((rx, task))
}
