//! Persistence. One `AnyPool` serves SQLite (the embedded default) and PostgreSQL (for
//! several instances); queries are written in the SQL both understand, with `$n`
//! placeholders, and times are Unix seconds.

pub mod account_search;
pub mod api_tokens;
pub mod app_passwords;
pub mod audit;
pub mod audit_search;
pub mod backup;
pub mod bulk_jobs;
pub mod bulk_revoke;
pub mod dovecot_reports;
pub mod imap_logins;
pub mod invitations;
pub mod known_devices;
pub mod login_history;
pub mod notices;
pub mod second_factors;
pub mod server_secrets;
pub mod sessions;
pub mod setup_tokens;
pub mod shown_once;
pub mod throttle;
pub mod users;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, ConnectOptions, Connection, Executor};

/// Set on every SQLite connection (the journal mode once per file, in `Db::connect`). sqlx
/// sets no journal mode unless asked, and the default rollback journal makes every write block every reader (Dovecot's login queries and every
/// page) for its duration. WAL lets readers go on while one connection writes; the mode is
/// kept in the file, so Dovecot's own connections use it too. `synchronous = NORMAL` is
/// WAL's recommended setting: a power cut may lose the last commits, never corrupt the
/// file; a sign-in or a revocation lost that way is redone by the user, whereas FULL would
/// add an fsync to every sign-in of a flood. `busy_timeout` lets a writer wait its turn
/// instead of failing at once when another instance (or `mailkeys` on the command line)
/// holds the write lock.
pub const SQLITE_PRAGMAS: &str = "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    /// Connections of their own for password attempts (counts, the user lookup, the audit
    /// row of a failure): a flood of sign-ins queues for these and leaves `pool` to pages.
    pub attempts: AnyPool,
    pub backend: Backend,
}

/// How long a connection beyond a pool's first may stay idle before it is closed. sqlx checks
/// as often as this, so such a connection is closed within twice this time of going idle.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(15);

/// Connections for password attempts; the rest (`page_connections`) serve everything else.
const ATTEMPT_CONNECTIONS: u32 = 3;

fn page_connections(backend: Backend) -> u32 {
    match backend {
        Backend::Sqlite => 8,
        Backend::Postgres => 10,
    }
}

pub type Tx = sqlx::Transaction<'static, Any>;

/// Each backend's migrations, compiled into the binary.
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

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
        let idle = IDLE_CONNECTION_TIMEOUT;
        let pool = open_pool(&options, backend, page_connections(backend), 1, idle).await?;
        if backend == Backend::Sqlite {
            use_wal(&pool).await?;
        }
        // Attempts are rare when nobody is signing in, and each already waits for a hash.
        let attempts = open_pool(&options, backend, ATTEMPT_CONNECTIONS, 0, idle).await?;
        Ok(Self {
            pool,
            attempts,
            backend,
        })
    }

    fn migrator(&self) -> &'static Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        self.migrator()
            .run(&self.pool)
            .await
            .context("database migration failed")
    }

    /// The versions of the migrations this binary knows that the database has not applied.
    pub async fn pending_migrations(&self) -> Result<Vec<i64>, sqlx::Error> {
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await?;
        Ok(self
            .migrator()
            .iter()
            .filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
            .map(|m| m.version)
            .collect())
    }

    /// Closes both pools, waiting for their connections to come back (SQLite then folds
    /// its write-ahead log into the file).
    pub async fn close(&self) {
        self.pool.close().await;
        self.attempts.close().await;
    }

    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.pool.begin().await
    }
}

/// A pool of at most `connections`, keeping `kept_open` of them open when idle. SQLite in
/// WAL mode reads concurrently with the one writer, so pages do not queue behind sign-in
/// writes for the file either.
async fn open_pool(
    options: &AnyConnectOptions,
    backend: Backend,
    connections: u32,
    kept_open: u32,
    idle_timeout: Duration,
) -> anyhow::Result<AnyPool> {
    AnyPoolOptions::new()
        .max_connections(connections)
        // A burst opens connections up to the maximum; each holds a page cache and, on
        // SQLite, a thread. Closed within half a minute of going idle, but the pages' pool
        // keeps one so that the first page after a quiet spell does not wait for a new one.
        .min_connections(kept_open)
        .idle_timeout(idle_timeout)
        .acquire_timeout(Duration::from_secs(5))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    conn.execute(SQLITE_PRAGMAS).await?;
                }
                Ok(())
            })
        })
        .after_release(|conn, _| {
            Box::pin(async move {
                // A transaction whose COMMIT failed (a full disk, in WAL mode) may have been
                // rolled back by SQLite itself; the ROLLBACK sqlx then sends fails, and sqlx
                // still counts the transaction as open. Reused, such a connection would turn
                // the next request's BEGIN into a SAVEPOINT and report a success that was
                // never committed. Flush the pending rollback, then keep the connection
                // only if nothing is open any more.
                if !conn.is_in_transaction() {
                    return Ok(true);
                }
                conn.ping().await?;
                Ok(!conn.is_in_transaction())
            })
        })
        .connect_with(options.clone())
        .await
        .context("cannot open the database")
}

/// Switches the file to WAL (kept in the file from then on; a no-op when it already is).
/// Done once, not per connection. Switching a file still in rollback mode needs a moment
/// when no other process (Dovecot's auth workers) holds it, which no busy timeout waits
/// for, so it is retried for a few seconds before start-up fails with the reason.
async fn use_wal(pool: &AnyPool) -> anyhow::Result<()> {
    let mut tries = 0;
    let mode: String = loop {
        match sqlx::query_scalar("PRAGMA journal_mode = WAL")
            .fetch_one(pool)
            .await
        {
            Ok(mode) => break mode,
            Err(err) if is_unavailable(&err) && tries < 50 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => {
                return Err(err).context(
                    "cannot switch the SQLite database to WAL mode (another process kept it \
                     busy for 5 seconds; start Mailkeys again once it is free)",
                )
            }
        }
    };
    if !mode.eq_ignore_ascii_case("wal") {
        // An in-memory database answers "memory": there is no file to share.
        tracing::warn!(journal_mode = %mode, "the SQLite database is not in WAL mode");
    }
    Ok(())
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

#[cfg(test)]
mod pool_tests {
    use super::*;

    fn sqlite_url(dir: &tempfile::TempDir) -> String {
        format!("sqlite://{}?mode=rwc", dir.path().join("pool.db").display())
    }

    #[tokio::test]
    async fn both_pools_close_idle_connections_within_the_stated_30_seconds() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&sqlite_url(&dir)).await.unwrap();
        for (pool, kept_open) in [(&db.pool, 1), (&db.attempts, 0)] {
            assert_eq!(
                pool.options().get_idle_timeout(),
                Some(Duration::from_secs(15)),
                "idle for 15 s, checked every 15 s: closed within 30 s"
            );
            assert_eq!(pool.options().get_min_connections(), kept_open);
        }
    }

    #[tokio::test]
    async fn connections_a_burst_opened_are_closed_when_idle_and_one_stays() {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let options = AnyConnectOptions::from_str(&sqlite_url(&dir)).unwrap();
        let idle = Duration::from_millis(300);
        let pool = open_pool(&options, Backend::Sqlite, 4, 1, idle)
            .await
            .unwrap();
        let burst = [
            pool.acquire().await.unwrap(),
            pool.acquire().await.unwrap(),
            pool.acquire().await.unwrap(),
        ];
        assert_eq!(pool.size(), 3);
        drop(burst);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while pool.size() > 1 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(pool.size(), 1, "the burst's extra connections are closed");
        tokio::time::sleep(idle * 3).await;
        assert_eq!(pool.size(), 1, "and the first one stays open");
    }
}
