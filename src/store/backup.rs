//! SQLite backups and restores (`mailkeys backup FILE`, `mailkeys restore FILE`).
//!
//! A backup is `VACUUM INTO` a new file: one read transaction, so a consistent snapshot
//! while the service keeps writing (WAL mode lets it). It is written under a temporary
//! name (mode 0600: it holds password hashes), checked, and then linked to its name, which
//! never overwrites a file. A restore copies the backup (with SQLite, `VACUUM INTO`)
//! beside the configured database,
//! checks it is a Mailkeys database this version can run (newer schemas are refused, older
//! ones brought up to date), keeps the current file aside and moves the copy into place.
//! `serve` holds a shared lock on the SQLite file ([`mark_in_use`]) and a restore needs it
//! exclusively, so a restore under a running service is refused: that service would go on
//! writing into the old file.
//!
//! PostgreSQL has its own tools (pg_dump, pg_restore: see the README).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt as _;
use std::os::unix::io::AsRawFd as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions as _, Connection as _};

pub const POSTGRES_BACKUP: &str = "this database is PostgreSQL: back it up with pg_dump \
    (see the README's PostgreSQL section), e.g. pg_dump --format=custom --file=mailkeys.dump \"$DATABASE_URL\"";
pub const POSTGRES_RESTORE: &str = "this database is PostgreSQL: restore a pg_dump file with \
    pg_restore (see the README's PostgreSQL section)";

/// What a backup or a restored file holds.
#[derive(Debug)]
pub struct Contents {
    pub accounts: i64,
    pub app_passwords: i64,
    pub schema_version: i64,
}

/// The SQLite file of `database_url`, or `None` for PostgreSQL.
pub fn sqlite_file(database_url: &str) -> anyhow::Result<Option<PathBuf>> {
    let Some(rest) = database_url.strip_prefix("sqlite:") else {
        return Ok(None);
    };
    let path = rest
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        bail!("database_url names no SQLite file");
    }
    Ok(Some(PathBuf::from(path)))
}

/// One plain connection to an existing SQLite file, its journal mode left as it is (the
/// service's pools would switch a backup to WAL and leave its -wal and -shm files around).
async fn open(path: &Path) -> Result<SqliteConnection, sqlx::Error> {
    SqliteConnectOptions::new()
        .filename(path)
        .busy_timeout(Duration::from_secs(5))
        .connect()
        .await
}

fn flock(file: &File, operation: libc::c_int) -> bool {
    // SAFETY: flock takes a descriptor this `File` owns and plain flags; it has no other
    // effect than the advisory lock, released when the file is closed.
    unsafe { libc::flock(file.as_raw_fd(), operation | libc::LOCK_NB) == 0 }
}

/// Marks the SQLite database of `database_url` as used by a running service, until the
/// process exits: a shared `flock` on the file, which SQLite's own (POSIX) locks ignore.
/// The descriptor is never closed, on purpose: closing any descriptor of the file would
/// drop this process's POSIX locks on it, SQLite's included.
pub fn mark_in_use(database_url: &str) -> anyhow::Result<()> {
    // PostgreSQL, or an in-memory SQLite database: nothing to restore over.
    let Ok(Some(path)) = sqlite_file(database_url) else {
        return Ok(());
    };
    let file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    if !flock(&file, libc::LOCK_SH) {
        bail!(
            "{} is being restored (mailkeys restore): start the service when it is done",
            path.display()
        );
    }
    std::mem::forget(file);
    Ok(())
}

/// A new file `<dir>/.<name>.<purpose>-<random>` with mode 0600, beside `near`.
fn temporary_beside(near: &Path, purpose: &str) -> anyhow::Result<(PathBuf, File)> {
    let name = near
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = near.parent().filter(|d| !d.as_os_str().is_empty());
    let temp_name = format!(
        ".{name}.{purpose}-{}",
        crate::infra::random::random_symbols(8)?
    );
    let path = dir.map_or_else(|| PathBuf::from(&temp_name), |d| d.join(&temp_name));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    Ok((path, file))
}

/// Removes the temporary file when the operation does not finish.
struct Cleanup(Option<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(&path);
            for suffix in ["-wal", "-shm", "-journal"] {
                let _ = std::fs::remove_file(with_suffix(&path, suffix));
            }
        }
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn sync_dir_of(path: &Path) {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}

/// `mailkeys backup FILE`: a consistent copy of the live SQLite database in a new file.
pub async fn backup(database_url: &str, dest: &Path) -> anyhow::Result<Contents> {
    let Some(source) = sqlite_file(database_url)? else {
        bail!(POSTGRES_BACKUP);
    };
    if !source.is_file() {
        bail!("there is no database at {} to back up", source.display());
    }
    if dest.exists() {
        bail!(
            "{} exists already: a backup never overwrites a file, choose a new name",
            dest.display()
        );
    }
    let (temp, file) = temporary_beside(dest, "partial")?;
    drop(file);
    let mut cleanup = Cleanup(Some(temp.clone()));
    let mut db = open(&source).await?;
    // An empty file is accepted by VACUUM INTO, which keeps its 0600 mode.
    sqlx::query("VACUUM INTO $1")
        .bind(temp.display().to_string())
        .execute(&mut db)
        .await
        .context("the backup failed")?;
    db.close().await?;
    let contents = check(&temp).await?;
    File::open(&temp)?.sync_all()?;
    std::fs::hard_link(&temp, dest).map_err(|err| {
        if err.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} exists already: a backup never overwrites a file",
                dest.display()
            )
        } else {
            anyhow::Error::new(err).context(format!("cannot write {}", dest.display()))
        }
    })?;
    if let Some(temp) = cleanup.0.take() {
        let _ = std::fs::remove_file(temp);
    }
    sync_dir_of(dest);
    Ok(contents)
}

/// What `restore` did.
#[derive(Debug)]
pub struct Restored {
    pub contents: Contents,
    /// Where the database that was in place before is kept.
    pub previous: Option<PathBuf>,
}

/// `mailkeys restore FILE`: puts a backup in place of the configured SQLite database.
pub async fn restore(database_url: &str, backup: &Path, now: i64) -> anyhow::Result<Restored> {
    let Some(target) = sqlite_file(database_url)? else {
        bail!(POSTGRES_RESTORE);
    };
    if !backup.is_file() {
        bail!("there is no file {}", backup.display());
    }
    // Held until the new file is in place: no service may run on the target meanwhile.
    let lock = if target.exists() {
        let file = File::open(&target)?;
        if !flock(&file, libc::LOCK_EX) {
            bail!(
                "the service is running on {}: stop it first (it would go on writing into \
                 the old file), then restore",
                target.display()
            );
        }
        Some(file)
    } else {
        None
    };

    let (temp, file) = temporary_beside(&target, "restore")?;
    drop(file);
    let mut cleanup = Cleanup(Some(temp.clone()));
    // Copied by SQLite itself: whatever the file's write-ahead log holds comes along, and
    // a file that is not a database is refused here.
    let not_ours = || format!("{} is not a Mailkeys SQLite database", backup.display());
    let mut source = open(backup).await.with_context(not_ours)?;
    let copied = sqlx::query("VACUUM INTO $1")
        .bind(temp.display().to_string())
        .execute(&mut source)
        .await;
    let _ = source.close().await;
    copied.with_context(not_ours)?;
    verify_schema(&temp, backup).await?;
    let contents = check(&temp).await?;

    let previous = match &lock {
        Some(_) => Some(set_aside(&target, now).await?),
        None => None,
    };
    std::fs::rename(&temp, &target)
        .with_context(|| format!("cannot move the restored file to {}", target.display()))?;
    cleanup.0 = None;
    sync_dir_of(&target);
    drop(lock);
    Ok(Restored { contents, previous })
}

/// Checkpoints the current database (so its file holds everything) and keeps it under a
/// new name; returns that name.
async fn set_aside(target: &Path, now: i64) -> anyhow::Result<PathBuf> {
    let mut db = open(target).await?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut db)
        .await
        .context("cannot checkpoint the current database")?;
    db.close().await?;
    let aside = with_suffix(target, &format!(".before-restore-{now}"));
    std::fs::hard_link(target, &aside)
        .with_context(|| format!("cannot keep the current database as {}", aside.display()))?;
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(with_suffix(target, suffix));
    }
    Ok(aside)
}

/// Refuses a file that is not a Mailkeys database this version can run, and brings an
/// older one up to date.
async fn verify_schema(copy: &Path, shown_as: &Path) -> anyhow::Result<()> {
    let not_ours = || format!("{} is not a Mailkeys SQLite database", shown_as.display());
    let mut db = open(copy).await.with_context(not_ours)?;
    let applied: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE success")
            .fetch_all(&mut db)
            .await
            .with_context(not_ours)?;
    let migrator = sqlx::migrate!("./migrations/sqlite");
    for (version, checksum) in &applied {
        match migrator.iter().find(|m| m.version == *version) {
            None => bail!(
                "{} comes from a newer Mailkeys (schema version {version}): restore it with \
                 that version",
                shown_as.display()
            ),
            Some(known) if known.checksum.as_ref() != checksum.as_slice() => {
                bail!(
                    "{} has a schema this Mailkeys does not know",
                    shown_as.display()
                )
            }
            Some(_) => {}
        }
    }
    if applied.is_empty() {
        bail!(not_ours());
    }
    migrator
        .run(&mut db)
        .await
        .context("cannot bring the backup's schema up to date")?;
    db.close().await?;
    Ok(())
}

/// Checks a backup file end to end and counts what it holds.
async fn check(path: &Path) -> anyhow::Result<Contents> {
    let mut db = open(path).await?;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut db)
        .await?;
    if integrity != "ok" {
        bail!(
            "{} fails SQLite's integrity check: {integrity}",
            path.display()
        );
    }
    let contents = Contents {
        accounts: sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&mut db)
            .await?,
        app_passwords: sqlx::query_scalar("SELECT COUNT(*) FROM app_passwords")
            .fetch_one(&mut db)
            .await?,
        schema_version: sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success",
        )
        .fetch_one(&mut db)
        .await?,
    };
    db.close().await?;
    Ok(contents)
}
