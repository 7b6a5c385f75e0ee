//! Accounts.

use sqlx::{Any, Executor, FromRow};

use super::{Db, Flag};
use crate::domain::UserId;

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    #[sqlx(try_from = "Flag")]
    pub is_admin: bool,
    /// Alone grants or removes admin rights, and acts on other admins.
    #[sqlx(try_from = "Flag")]
    pub is_superadmin: bool,
    #[sqlx(try_from = "Flag")]
    pub disabled: bool,
    #[sqlx(try_from = "Flag")]
    pub must_reset: bool,
    #[sqlx(try_from = "Flag")]
    pub main_imap_allowed: bool,
    #[sqlx(try_from = "Flag")]
    pub main_imap_admin_blocked: bool,
    pub created_at: i64,
    pub password_changed_at: i64,
}

impl UserRow {
    pub fn role(&self) -> crate::domain::Role {
        crate::domain::Role::of(self.is_admin, self.is_superadmin)
    }
}

const COLUMNS: &str = "id, email, \
     CASE WHEN is_admin THEN 1 ELSE 0 END AS is_admin, \
     CASE WHEN is_superadmin THEN 1 ELSE 0 END AS is_superadmin, \
     CASE WHEN disabled THEN 1 ELSE 0 END AS disabled, \
     CASE WHEN must_reset THEN 1 ELSE 0 END AS must_reset, \
     CASE WHEN main_imap_allowed THEN 1 ELSE 0 END AS main_imap_allowed, \
     CASE WHEN main_imap_admin_blocked THEN 1 ELSE 0 END AS main_imap_admin_blocked, \
     created_at, password_changed_at";

/// The columns of a [`UserRow`], for queries of other modules.
pub fn columns() -> &'static str {
    COLUMNS
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub password_hash: &'a str,
    pub is_admin: bool,
    pub is_superadmin: bool,
    pub main_imap_allowed: bool,
    pub now: i64,
}

pub async fn insert<'e>(
    e: impl Executor<'e, Database = Any>,
    user: NewUser<'_>,
) -> Result<UserId, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO users (email, password_hash, is_admin, is_superadmin, main_imap_allowed, \
         created_at, password_changed_at, last_activity_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6, $6) RETURNING id",
    )
    .bind(user.email)
    .bind(user.password_hash)
    .bind(user.is_admin)
    .bind(user.is_superadmin)
    .bind(user.main_imap_allowed)
    .bind(user.now)
    .fetch_one(e)
    .await
}

/// `find_by_id` on any executor (a transaction's connection, say).
pub async fn find_by_id_on<'e>(
    e: impl Executor<'e, Database = Any>,
    id: UserId,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await
}

pub async fn find_by_id(db: &Db, id: UserId) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await
}

/// The user and the stored hash, for sign-in.
/// Read on the attempts' connections (`Db::attempts`): a sign-in flood queues there.
pub async fn find_with_hash(
    db: &Db,
    email: &str,
) -> Result<Option<(UserRow, String)>, sqlx::Error> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: UserRow,
        password_hash: String,
    }
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, password_hash FROM users WHERE email = $1"
    ))
    .bind(email)
    .fetch_optional(&db.attempts)
    .await?;
    Ok(row.map(|r| (r.user, r.password_hash)))
}

pub async fn password_hash(db: &Db, id: UserId) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await
}

pub async fn list(db: &Db) -> Result<Vec<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users ORDER BY email"))
        .fetch_all(&db.pool)
        .await
}

pub async fn any_admin(db: &Db) -> Result<bool, sqlx::Error> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE is_admin")
        .fetch_one(&db.pool)
        .await?;
    Ok(count > 0)
}

pub async fn set_password<'e>(
    e: impl Executor<'e, Database = Any>,
    id: UserId,
    password_hash: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $1, password_changed_at = $2, must_reset = FALSE WHERE id = $3")
        .bind(password_hash)
        .bind(now)
        .bind(id)
        .execute(e)
        .await?;
    Ok(())
}

pub async fn set_main_imap_allowed<'e>(
    e: impl Executor<'e, Database = Any>,
    id: UserId,
    allowed: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET main_imap_allowed = $1 WHERE id = $2")
        .bind(allowed)
        .bind(id)
        .execute(e)
        .await?;
    Ok(())
}

/// An admin's switches on an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminFlag {
    Disabled,
    MustReset,
    MainImapBlocked,
}

impl AdminFlag {
    fn column(self) -> &'static str {
        match self {
            Self::Disabled => "disabled",
            Self::MustReset => "must_reset",
            Self::MainImapBlocked => "main_imap_admin_blocked",
        }
    }
}

pub async fn set_admin_flag<'e>(
    e: impl Executor<'e, Database = Any>,
    id: UserId,
    flag: AdminFlag,
    on: bool,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(&format!(
        "UPDATE users SET {} = $1 WHERE id = $2",
        flag.column()
    ))
    .bind(on)
    .bind(id)
    .execute(e)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Every account with its number of live app passwords, for the admin overview.
pub async fn list_with_counts(db: &Db, now: i64) -> Result<Vec<(UserRow, i64)>, sqlx::Error> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: UserRow,
        live: i64,
    }
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, (SELECT COUNT(*) FROM app_passwords a WHERE a.user_id = users.id \
           AND a.revoked_at IS NULL AND (a.expires_at IS NULL OR a.expires_at > $1)) AS live \
         FROM users ORDER BY email"
    ))
    .bind(now)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.user, r.live)).collect())
}

/// Whether any superadmin exists.
pub async fn any_superadmin<'e>(e: impl Executor<'e, Database = Any>) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE is_superadmin")
        .fetch_one(e)
        .await?;
    Ok(n > 0)
}

/// Superadmins other than `id` that are not disabled, read in the caller's transaction so
/// that the change it guards ("not the last superadmin") cannot race another. On PostgreSQL
/// the superadmin rows are locked first: a concurrent demotion waits for this transaction and
/// then counts what it committed. SQLite has one writer: the second of two such transactions
/// fails to write rather than act on a stale count.
pub async fn other_superadmins(
    tx: &mut super::Tx,
    backend: super::Backend,
    id: UserId,
) -> Result<i64, sqlx::Error> {
    if backend == super::Backend::Postgres {
        sqlx::query("SELECT id FROM users WHERE is_superadmin FOR UPDATE")
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE is_superadmin AND NOT disabled AND id <> $1",
    )
    .bind(id)
    .fetch_one(&mut **tx)
    .await
}

/// Sets an account's standing: admin rights and superadmin.
pub async fn set_role<'e>(
    e: impl Executor<'e, Database = Any>,
    id: UserId,
    admin: bool,
    superadmin: bool,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE users SET is_admin = $1, is_superadmin = $2 WHERE id = $3")
        .bind(admin)
        .bind(superadmin)
        .bind(id)
        .execute(e)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Notes activity of the account (a web sign-in, an IMAP login) for the admin's list.
pub async fn touch_activity<'e>(
    e: impl Executor<'e, Database = Any>,
    id: UserId,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET last_activity_at = $1 WHERE id = $2 AND last_activity_at < $1")
        .bind(now)
        .bind(id)
        .execute(e)
        .await?;
    Ok(())
}
