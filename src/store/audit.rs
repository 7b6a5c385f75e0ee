//! The append-only audit log of credential events. The database refuses UPDATE and DELETE
//! on it (a trigger), so the application can only add.

use sqlx::{Any, Executor, FromRow};

use super::Db;
use crate::domain::UserId;

/// Declares [`Event`] with the name each is stored under, and [`Event::ALL`], from one list,
/// so that no event can be missing from the audit page's filter.
macro_rules! events {
    ($($variant:ident => $name:literal,)*) => {
        /// Every event name the log may hold, so that they stay consistent and searchable.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Event {
            $($variant,)*
        }

        impl Event {
            /// Every event, for the audit page's filter.
            pub const ALL: &'static [Event] = &[$(Event::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Event::$variant => $name,)*
                }
            }
        }
    };
}

events! {
    SignIn => "sign_in",
    SignInFailed => "sign_in_failed",
    SignOut => "sign_out",
    SetupCompleted => "setup_completed",
    UserCreated => "user_created",
    AppPasswordCreated => "app_password_created",
    AppPasswordRevoked => "app_password_revoked",
    AppPasswordLimitsChanged => "app_password_limits_changed",
    AppPasswordRenamed => "app_password_renamed",
    AllAppPasswordsRevoked => "all_app_passwords_revoked",
    PasswordChanged => "password_changed",
    PasswordChangeFailed => "password_change_failed",
    MainImapSetting => "main_password_imap_setting",
    AccountDisabled => "account_disabled",
    AccountEnabled => "account_enabled",
    ResetRequired => "password_reset_required",
    ResetCleared => "password_reset_cleared",
    MainImapBlocked => "main_password_imap_blocked_by_admin",
    MainImapUnblocked => "main_password_imap_unblocked_by_admin",
    SessionsEnded => "sessions_ended",
    AccountCompromised => "account_compromised",
    AuditCleanedUp => "audit_log_cleaned_up",
    RoleChanged => "role_changed",
    BulkRevocation => "bulk_revocation",
    InvitationCreated => "invitation_created",
    ApiTokenCreated => "api_token_created",
    ApiTokenRevoked => "api_token_revoked",
    ConnectionTest => "connection_test",
    DovecotSelfCheck => "dovecot_self_check",
    SecondFactorFailed => "second_factor_failed",
    SecondFactorAdded => "second_factor_added",
    SecondFactorRemoved => "second_factor_removed",
    SecondFactorsReset => "second_factors_reset_by_admin",
    RecoveryCodesGenerated => "recovery_codes_generated",
    Reauthenticated => "reauthenticated",
}

impl Event {
    /// The event stored as `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|e| e.as_str() == name)
    }
}

pub struct Entry<'a> {
    pub actor: Option<UserId>,
    pub subject: Option<UserId>,
    pub event: Event,
    pub detail: String,
    pub ip: Option<&'a str>,
}

pub async fn record<'e>(
    e: impl Executor<'e, Database = Any>,
    entry: Entry<'_>,
    now: i64,
) -> Result<(), sqlx::Error> {
    insert(e, entry, None, now).await
}

/// A failed password attempt, with the keyed hash of the typed address (see
/// `infra::attempt_keys`): the one trace of an attempt at an address that has no account,
/// which an admin can still find by that address.
pub async fn record_failed_attempt<'e>(
    e: impl Executor<'e, Database = Any>,
    entry: Entry<'_>,
    typed_key: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    insert(e, entry, Some(typed_key), now).await
}

async fn insert<'e>(
    e: impl Executor<'e, Database = Any>,
    entry: Entry<'_>,
    typed_key: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor_user_id, subject_user_id, event, detail, ip, typed_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(now)
    .bind(entry.actor)
    .bind(entry.subject)
    .bind(entry.event.as_str())
    .bind(entry.detail)
    .bind(entry.ip)
    .bind(typed_key)
    .execute(e)
    .await?;
    Ok(())
}

/// Several entries at `now` in one statement: a bulk revocation's entry per account of a
/// batch costs one round trip, not one per account (500 of them held the batch's locks).
pub async fn record_all<'e>(
    e: impl Executor<'e, Database = Any>,
    entries: &[Entry<'_>],
    now: i64,
) -> Result<(), sqlx::Error> {
    use std::fmt::Write as _;
    if entries.is_empty() {
        return Ok(());
    }
    let mut sql = String::from(
        "INSERT INTO audit_log (at, actor_user_id, subject_user_id, event, detail, ip) VALUES ",
    );
    for i in 0..entries.len() {
        let n = i * 6;
        let sep = if i == 0 { "" } else { ", " };
        let _ = write!(
            sql,
            "{sep}(${}, ${}, ${}, ${}, ${}, ${})",
            n + 1,
            n + 2,
            n + 3,
            n + 4,
            n + 5,
            n + 6
        );
    }
    let mut query = sqlx::query(&sql);
    for entry in entries {
        query = query
            .bind(now)
            .bind(entry.actor)
            .bind(entry.subject)
            .bind(entry.event.as_str())
            .bind(entry.detail.as_str())
            .bind(entry.ip);
    }
    query.execute(e).await?;
    Ok(())
}

/// The newest failed attempts made with the typed address whose key is `typed_key`.
pub async fn failed_attempts_for_key(
    db: &Db,
    typed_key: &str,
    limit: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT at, event, detail, ip FROM audit_log WHERE typed_key = $1 \
         ORDER BY id DESC LIMIT $2",
    )
    .bind(typed_key)
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}

#[derive(Debug, Clone, FromRow)]
pub struct AuditRow {
    pub at: i64,
    pub event: String,
    pub detail: String,
    pub ip: Option<String>,
}

/// The newest events about one user, newest first.
pub async fn recent_for_user(
    db: &Db,
    user_id: UserId,
    limit: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT at, event, detail, ip FROM audit_log WHERE subject_user_id = $1 \
         ORDER BY id DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}
