//! The connection test as a use case: what Mailkeys knows of the typed password (from the
//! user's own rows only), the live check against a configured server, and its audit entry.

use secrecy::SecretString;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::attempts::{self, Admission};
use super::Services;
use crate::domain::app_password::looks_like_mistyped;
use crate::domain::password_policy::within_max_length;
use crate::domain::{AppPasswordStatus, LookupId};
use crate::error::{AppError, AppResult};
use crate::imap::{self, CheckReport, KnownCredential, MailServer, StepEvent};
use crate::store::app_passwords;
use crate::store::audit::{self, Entry, Event};
use crate::store::users::{self, UserRow};

/// What Mailkeys itself knows about the typed password, from `user`'s own rows only: one
/// of their app passwords (by its lookup id), their main password (verified against its
/// stored hash on the bounded hashing pool), a slip away from one of their live app
/// passwords, or none of theirs.
pub async fn known_credential(
    state: &Services,
    user: &UserRow,
    password: &SecretString,
    ip: &str,
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
                    AppPasswordStatus::Live if looks_like_mistyped(password, &row.lookup_id) => {
                        KnownCredential::LikelyTypo
                    }
                    AppPasswordStatus::Live => KnownCredential::ActiveAppPassword {
                        network_limited: row.allowed_nets.is_some(),
                    },
                },
            );
        }
    }
    let Some(is_main) = is_main_password(state, user, password, ip).await? else {
        // Locked: Mailkeys will not tell whether this is the main password now.
        return Ok(KnownCredential::Unknown);
    };
    if is_main {
        return Ok(if !user.main_imap_allowed || user.main_imap_admin_blocked {
            KnownCredential::MainPasswordNotAllowed
        } else {
            KnownCredential::MainPassword
        });
    }
    let near_miss = app_passwords::list_for_user(&state.db, user.id)
        .await?
        .iter()
        .any(|row| {
            AppPasswordStatus::of(row.revoked_at, row.expires_at, now).is_live()
                && looks_like_mistyped(password, &row.lookup_id)
        });
    Ok(if near_miss {
        KnownCredential::LikelyTypo
    } else {
        KnownCredential::NotOfThisAccount
    })
}

/// Whether `password` is `user`'s main password, verified against the stored hash; `None`
/// when the account's or the address's password attempts are locked. This answer is a
/// guessing path like the sign-in form, so it shares its counts: a wrong guess counts, a
/// right one takes its place back. A password longer than any main password may be is not
/// hashed at all.
async fn is_main_password(
    state: &Services,
    user: &UserRow,
    password: &SecretString,
    ip: &str,
) -> AppResult<Option<bool>> {
    if !within_max_length(password) {
        return Ok(Some(false));
    }
    let attempt = match attempts::admit(state, &user.email, ip).await? {
        Admission::Granted(attempt) => attempt,
        Admission::Locked { .. } => return Ok(None),
    };
    let stored = users::password_hash(&state.db, user.id).await?;
    let matched = state
        .hasher
        .verify(password.clone(), stored)
        .await
        .map_err(AppError::internal)?;
    if matched || attempt.starts_lock() {
        let mut tx = state.db.begin().await?;
        if matched {
            attempt.succeeded(&mut tx).await?;
        } else {
            attempt.failed(state, &mut tx, Some(user), ip).await?;
        }
        tx.commit().await?;
    }
    Ok(Some(matched))
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
    let known = known_credential(state, user, &password, ip).await?;
    let (tx, rx) = mpsc::channel(imap::EVENT_CHANNEL_CAPACITY);
    let limits = state.settings.check_limits();
    let (state, user_id, email, ip) = (state.clone(), user.id, user.email.clone(), ip.to_owned());
    let task = tokio::spawn(async move {
        let report = imap::run_check(&target, &email, &password, &limits, tx)
            .await
            .with_known_credential(&known);
        state.metrics.connection_test(report.verdict.kind());
        let detail = format!(
            "{}: {} ({} ms)",
            target.name,
            report.verdict.kind().replace('_', " "),
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
