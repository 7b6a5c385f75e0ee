//! Persistence. One `AnyPool` serves SQLite (the embedded default) and PostgreSQL (for
//! several instances); queries are written in the SQL both understand, with `$n`
//! placeholders, and times are Unix seconds.

pub mod app_passwords;
pub mod audit;
pub mod backup;
pub mod dovecot_reports;
pub mod imap_logins;
pub mod sessions;
pub mod setup_tokens;
pub mod throttle;
pub mod users;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, ConnectOptions};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
}

pub type Tx = sqlx::Transaction<'static, Any>;

impl Db {
    /// Opens the database, creating a SQLite file on first start.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite:// or postgres://");
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .context("DATABASE_URL is not a valid database URL")?
            .log_statements(tracing::log::LevelFilter::Debug)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1));
        let pool = AnyPoolOptions::new()
            // SQLite in WAL mode reads concurrently: with 8 connections a page no longer
            // queues behind a flood of sign-in writes (dashboard p99 during 500 concurrent
            // sign-ins: 132 ms with 4, 13 ms with 8; see reports/benchmark.md).
            .max_connections(if backend == Backend::Sqlite { 8 } else { 10 })
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .context("cannot open the database")?;
        Ok(Self { pool, backend })
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&self.pool).await,
            Backend::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&self.pool)
                    .await
            }
        }
        .context("database migration failed")
    }

    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.pool.begin().await
    }
}

/// The database cannot be reached or cannot take the change right now (as opposed to a
/// query that is wrong): a 503 that says nothing was changed, not a 500.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // BUSY (5), LOCKED (6), FULL (13), CANTOPEN (14), with their extended codes.
                matches!(code.parse::<i32>().map(|c| c & 0xff), Ok(5 | 6 | 13 | 14))
            } else {
                // Connection exceptions (08…), operator intervention (57P…), insufficient
                // resources (53…), database not accepting connections (55000).
                code.starts_with("08")
                    || code.starts_with("57P")
                    || code.starts_with("53")
                    || code == "55000"
            }
        }
        _ => false,
    }
}

pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|db| db.is_unique_violation())
}

/// A boolean column read through the Any driver. SQLite keeps flags as INTEGER 0/1 and
/// PostgreSQL as BOOLEAN; queries select them as `CASE WHEN flag THEN 1 ELSE 0 END`, an
/// integer on both, and this turns that integer back into a `bool`.
#[derive(Debug, Clone, Copy)]
pub struct Flag(bool);

impl sqlx::Type<Any> for Flag {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <i64 as sqlx::Type<Any>>::type_info()
    }

    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <i64 as sqlx::Type<Any>>::compatible(ty) || <i32 as sqlx::Type<Any>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, Any> for Flag {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(Flag(<i64 as sqlx::Decode<'r, Any>>::decode(value)? != 0))
    }
}

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0
    }
}
