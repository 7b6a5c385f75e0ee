//! The second factors of accounts: the authenticator-app secret, the recovery codes (keyed
//! hashes only) and the passkeys. Each check-and-use is one conditional UPDATE, so a code
//! accepted by two requests at once is accepted once.

use secrecy::SecretString;
use sqlx::{Any, Executor, FromRow};

use super::Db;
use crate::domain::{PasskeyId, UserId};

/// An account's authenticator-app secret (base32), confirmed or not.
pub struct TotpRow {
    pub secret: SecretString,
    pub confirmed: bool,
    /// The last time step whose code was accepted.
    pub last_step: i64,
}

pub async fn totp_of(db: &Db, user: UserId) -> Result<Option<TotpRow>, sqlx::Error> {
    let row: Option<(String, Option<i64>, i64)> = sqlx::query_as(
        "SELECT secret, confirmed_at, last_step FROM totp_secrets WHERE user_id = $1",
    )
    .bind(user)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|(secret, confirmed_at, last_step)| TotpRow {
        secret: secret.into(),
        confirmed: confirmed_at.is_some(),
        last_step,
    }))
}

/// Stores a new unconfirmed secret, replacing an unconfirmed one. Returns false (and
/// changes nothing) when the account already has a confirmed secret.
pub async fn totp_start<'e>(
    e: impl Executor<'e, Database = Any>,
    user: UserId,
    secret: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO totp_secrets (user_id, secret, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, \
             created_at = excluded.created_at, last_step = 0 \
         WHERE totp_secrets.confirmed_at IS NULL",
    )
    .bind(user)
    .bind(secret)
    .bind(now)
    .execute(e)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Activates the unconfirmed secret, `step` being the step of the code that confirmed it.
pub async fn totp_confirm<'e>(
    e: impl Executor<'e, Database = Any>,
    user: UserId,
    step: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE totp_secrets SET confirmed_at = $1, last_step = $2 \
         WHERE user_id = $3 AND confirmed_at IS NULL",
    )
    .bind(now)
    .bind(step)
    .bind(user)
    .execute(e)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks `step` used; false if it, or a later step, was used already (a replay).
pub async fn totp_use_step<'e>(
    e: impl Executor<'e, Database = Any>,
    user: UserId,
    step: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE totp_secrets SET last_step = $1 \
         WHERE user_id = $2 AND confirmed_at IS NOT NULL AND last_step < $1",
    )
    .bind(step)
    .bind(user)
    .execute(e)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn totp_delete<'e>(
    e: impl Executor<'e, Database = Any>,
    user: UserId,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM totp_secrets WHERE user_id = $1")
        .bind(user)
        .execute(e)
        .await?;
    Ok(done.rows_affected())
}

/// Replaces the account's recovery codes with these keyed hashes.
pub async fn recovery_replace(
    tx: &mut super::Tx,
    user: UserId,
    hashes: &[String],
    now: i64,
) -> Result<(), sqlx::Error> {
    recovery_delete(&mut **tx, user).await?;
    for hash in hashes {
        sqlx::query(
            "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
        )
        .bind(user)
        .bind(hash)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Uses up the unused code with this keyed hash; false if there is none.
pub async fn recovery_use<'e>(
    e: impl Executor<'e, Database = Any>,
    user: UserId,
    hash: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE recovery_codes SET used_at = $1 \
         WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(user)
    .bind(hash)
    .execute(e)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn recovery_remaining(db: &Db, user: UserId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
        .bind(user)
        .fetch_one(&db.pool)
        .await
}

pub async fn recovery_delete<'e>(
    e: impl Executor<'e, Database = Any>,
    user: UserId,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user)
        .execute(e)
        .await?;
    Ok(done.rows_affected())
}

#[derive(Debug, Clone, FromRow)]
pub struct PasskeyRow {
    pub id: PasskeyId,
    pub name: String,
    /// webauthn-rs's `Passkey`, JSON: public key and counter, no secret.
    pub passkey: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub async fn passkeys_of(db: &Db, user: UserId) -> Result<Vec<PasskeyRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, passkey, created_at, last_used_at FROM passkeys \
         WHERE user_id = $1 ORDER BY id",
    )
    .bind(user)
    .fetch_all(&db.pool)
    .await
}

pub struct NewPasskey<'a> {
    pub user: UserId,
    pub name: &'a str,
    pub credential_id: &'a str,
    pub passkey: &'a str,
    pub now: i64,
}

pub async fn passkey_insert<'e>(
    e: impl Executor<'e, Database = Any>,
    new: NewPasskey<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO passkeys (user_id, name, credential_id, passkey, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(new.user)
    .bind(new.name)
    .bind(new.credential_id)
    .bind(new.passkey)
    .bind(new.now)
    .execute(e)
    .await?;
    Ok(())
}

/// After a use: the passkey with its new counter, and when.
pub async fn passkey_used<'e>(
    e: impl Executor<'e, Database = Any>,
    id: PasskeyId,
    passkey: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE passkeys SET passkey = $1, last_used_at = $2 WHERE id = $3")
        .bind(passkey)
        .bind(now)
        .bind(id)
        .execute(e)
        .await?;
    Ok(())
}

pub async fn passkey_delete<'e>(
    e: impl Executor<'e, Database = Any>,
    user: UserId,
    id: Option<PasskeyId>,
) -> Result<u64, sqlx::Error> {
    let done = match id {
        Some(id) => {
            sqlx::query("DELETE FROM passkeys WHERE user_id = $1 AND id = $2")
                .bind(user)
                .bind(id)
                .execute(e)
                .await?
        }
        None => {
            sqlx::query("DELETE FROM passkeys WHERE user_id = $1")
                .bind(user)
                .execute(e)
                .await?
        }
    };
    Ok(done.rows_affected())
}

/// Whether the account has a confirmed authenticator app or a passkey.
pub async fn has_factor<'e>(
    e: impl Executor<'e, Database = Any>,
    user: UserId,
) -> Result<bool, sqlx::Error> {
    let found: i64 = sqlx::query_scalar(&format!("SELECT {HAS_FACTOR}"))
        .bind(user)
        .fetch_one(e)
        .await?;
    Ok(found != 0)
}

/// 1 when the account `$1` has a second factor, else 0: an SQL expression.
pub const HAS_FACTOR: &str = "CASE WHEN EXISTS (SELECT 1 FROM totp_secrets t \
     WHERE t.user_id = $1 AND t.confirmed_at IS NOT NULL) \
     OR EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = $1) THEN 1 ELSE 0 END";
