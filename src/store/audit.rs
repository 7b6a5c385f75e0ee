//! The append-only audit log of credential events. The database refuses UPDATE and DELETE
//! on it (a trigger), so the application can only add.

use sqlx::{Any, Executor, FromRow};

use super::Db;
use crate::domain::UserId;

/// Every event name the log may hold, so that they stay consistent and searchable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    SignIn,
    SignInFailed,
    SignOut,
    SetupCompleted,
    UserCreated,
    AppPasswordCreated,
    AppPasswordRevoked,
    AppPasswordLimitsChanged,
    AllAppPasswordsRevoked,
    PasswordChanged,
    PasswordChangeFailed,
    MainImapSetting,
    AccountDisabled,
    AccountEnabled,
    ResetRequired,
    ResetCleared,
    MainImapBlocked,
    MainImapUnblocked,
    SessionsEnded,
    ConnectionTest,
    DovecotSelfCheck,
    SecondFactorFailed,
    SecondFactorAdded,
    SecondFactorRemoved,
    SecondFactorsReset,
    RecoveryCodesGenerated,
    Reauthenticated,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "sign_in",
            Self::SignInFailed => "sign_in_failed",
            Self::SignOut => "sign_out",
            Self::SetupCompleted => "setup_completed",
            Self::UserCreated => "user_created",
            Self::AppPasswordCreated => "app_password_created",
            Self::AppPasswordRevoked => "app_password_revoked",
            Self::AppPasswordLimitsChanged => "app_password_limits_changed",
            Self::AllAppPasswordsRevoked => "all_app_passwords_revoked",
            Self::PasswordChanged => "password_changed",
            Self::PasswordChangeFailed => "password_change_failed",
            Self::MainImapSetting => "main_password_imap_setting",
            Self::AccountDisabled => "account_disabled",
            Self::AccountEnabled => "account_enabled",
            Self::ResetRequired => "password_reset_required",
            Self::ResetCleared => "password_reset_cleared",
            Self::MainImapBlocked => "main_password_imap_blocked_by_admin",
            Self::MainImapUnblocked => "main_password_imap_unblocked_by_admin",
            Self::SessionsEnded => "sessions_ended",
            Self::ConnectionTest => "connection_test",
            Self::DovecotSelfCheck => "dovecot_self_check",
            Self::SecondFactorFailed => "second_factor_failed",
            Self::SecondFactorAdded => "second_factor_added",
            Self::SecondFactorRemoved => "second_factor_removed",
            Self::SecondFactorsReset => "second_factors_reset_by_admin",
            Self::RecoveryCodesGenerated => "recovery_codes_generated",
            Self::Reauthenticated => "reauthenticated",
        }
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
