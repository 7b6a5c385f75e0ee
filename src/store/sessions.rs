//! Server-side sessions. The cookie holds a random token; the table holds its SHA-256.

use sqlx::{Any, Executor, FromRow};

use super::users::UserRow;
use super::{Db, Flag};
use crate::domain::second_factor::SessionStage;
use crate::domain::UserId;

#[derive(Clone, FromRow)]
pub struct SessionRow {
    pub id_hash: String,
    pub csrf_token: String,
    #[sqlx(rename = "s_created_at")]
    pub created_at: i64,
    pub last_seen_at: i64,
    #[sqlx(try_from = "String")]
    pub stage: Stage,
    /// When the second factor was last given in this session (0: never).
    pub verified_at: i64,
    /// Whether the user has a second factor (read with the session, to spare a query).
    #[sqlx(try_from = "Flag")]
    pub has_factor: bool,
}

/// The ceremony's state is left out: it is no business of a log line.
impl std::fmt::Debug for SessionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRow")
            .field("stage", &self.stage.0)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// The stored stage, read leniently (see [`SessionStage::from_stored`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stage(pub SessionStage);

impl From<String> for Stage {
    fn from(text: String) -> Self {
        Self(SessionStage::from_stored(&text))
    }
}

pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub user_id: UserId,
    pub csrf_token: &'a str,
    pub now: i64,
    pub ip: Option<&'a str>,
    pub stage: SessionStage,
    /// When a second factor was given (0: not in this session).
    pub verified_at: i64,
}

pub async fn insert<'e>(
    e: impl Executor<'e, Database = Any>,
    s: NewSession<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, ip, \
             stage, verified_at) \
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
    )
    .bind(s.id_hash)
    .bind(s.user_id)
    .bind(s.csrf_token)
    .bind(s.now)
    .bind(s.ip)
    .bind(s.stage.as_str())
    .bind(s.verified_at)
    .execute(e)
    .await?;
    Ok(())
}

/// The session and its user, if the session exists.
pub async fn load(db: &Db, id_hash: &str) -> Result<Option<(SessionRow, UserRow)>, sqlx::Error> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        session: SessionRow,
        #[sqlx(flatten)]
        user: UserRow,
    }
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT s.id_hash, s.csrf_token, s.created_at AS s_created_at, s.last_seen_at, \
                s.stage, s.verified_at, {} AS has_factor, \
                u.id, u.email, \
                CASE WHEN u.is_admin THEN 1 ELSE 0 END AS is_admin, \
                CASE WHEN u.is_superadmin THEN 1 ELSE 0 END AS is_superadmin, \
                CASE WHEN u.disabled THEN 1 ELSE 0 END AS disabled, \
                CASE WHEN u.must_reset THEN 1 ELSE 0 END AS must_reset, \
                CASE WHEN u.main_imap_allowed THEN 1 ELSE 0 END AS main_imap_allowed, \
                CASE WHEN u.main_imap_admin_blocked THEN 1 ELSE 0 END AS main_imap_admin_blocked, \
                u.created_at, u.password_changed_at \
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1",
        super::second_factors::HAS_FACTOR.replace("$1", "s.user_id")
    ))
    .bind(id_hash)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|r| (r.session, r.user)))
}

pub async fn touch(db: &Db, id_hash: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
        .bind(now)
        .bind(id_hash)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub async fn delete<'e>(
    e: impl Executor<'e, Database = Any>,
    id_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(e)
        .await?;
    Ok(())
}

/// Ends every session of the user except `keep` (the one making the change, if any).
pub async fn delete_for_user<'e>(
    e: impl Executor<'e, Database = Any>,
    user_id: UserId,
    keep: Option<&str>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
        .bind(user_id)
        .bind(keep.unwrap_or(""))
        .execute(e)
        .await?;
    Ok(done.rows_affected())
}

/// The owner gave the second factor again (re-authentication).
pub async fn set_verified<'e>(
    e: impl Executor<'e, Database = Any>,
    id_hash: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET verified_at = $1 WHERE id_hash = $2")
        .bind(now)
        .bind(id_hash)
        .execute(e)
        .await?;
    Ok(())
}

/// Keeps (or, with `None`, drops) the server's half of a WebAuthn ceremony.
pub async fn set_challenge(db: &Db, id_hash: &str, state: Option<&str>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET challenge = $1 WHERE id_hash = $2")
        .bind(state)
        .bind(id_hash)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Takes the ceremony state out of the session: each challenge is answered at most once,
/// even by two requests at once (only the one whose UPDATE clears it gets it).
pub async fn take_challenge(db: &Db, id_hash: &str) -> Result<Option<String>, sqlx::Error> {
    let state: Option<Option<String>> =
        sqlx::query_scalar("SELECT challenge FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .fetch_optional(&db.pool)
            .await?;
    let Some(state) = state.flatten() else {
        return Ok(None);
    };
    let taken =
        sqlx::query("UPDATE sessions SET challenge = NULL WHERE id_hash = $1 AND challenge = $2")
            .bind(id_hash)
            .bind(&state)
            .execute(&db.pool)
            .await?;
    Ok((taken.rows_affected() == 1).then_some(state))
}

/// How many browser sessions the user has (live or not yet purged).
pub async fn count_for_user(db: &Db, user_id: UserId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&db.pool)
        .await
}
