//! Browsers (by the digest of their device cookie) and client networks each account has
//! signed in from, so that a sign-in from another one can be reported.

use sqlx::{Any, Executor};

use crate::domain::UserId;

/// What is remembered: a browser's device cookie digest, or a client network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    Device,
    Network,
}

impl Seen {
    fn as_str(self) -> &'static str {
        match self {
            Self::Device => "device",
            Self::Network => "network",
        }
    }
}

/// Whether the account has signed in at all since sign-ins were remembered.
pub async fn any_for_user<'e>(
    e: impl Executor<'e, Database = Any>,
    user_id: UserId,
) -> Result<bool, sqlx::Error> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM known_devices WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(e)
        .await?;
    Ok(count > 0)
}

pub async fn is_known<'e>(
    e: impl Executor<'e, Database = Any>,
    user_id: UserId,
    kind: Seen,
    value: &str,
) -> Result<bool, sqlx::Error> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM known_devices WHERE user_id = $1 AND kind = $2 AND value = $3",
    )
    .bind(user_id)
    .bind(kind.as_str())
    .bind(value)
    .fetch_one(e)
    .await?;
    Ok(count > 0)
}

/// Remembers `value` for the account, or notes that it was seen again.
pub async fn remember<'e>(
    e: impl Executor<'e, Database = Any>,
    user_id: UserId,
    kind: Seen,
    value: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO known_devices (user_id, kind, value, first_seen_at, last_seen_at) \
         VALUES ($1, $2, $3, $4, $4) \
         ON CONFLICT (user_id, kind, value) DO UPDATE SET last_seen_at = $4",
    )
    .bind(user_id)
    .bind(kind.as_str())
    .bind(value)
    .bind(now)
    .execute(e)
    .await?;
    Ok(())
}
