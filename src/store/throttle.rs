//! Failed password attempts per account and per client address, shared by every instance
//! through the database. Keys are keyed hashes (see `infra::attempt_keys`), never typed text.
//!
//! An attempt takes its place in the count *before* it may be hashed, with a
//! compare-and-swap on the row's version: of many simultaneous attempts, only as many as the
//! policy allows are granted; the rest find the row locked (or lose the race and read it
//! again) and are refused without hashing.

use sqlx::{Any, Executor, FromRow};

use super::Db;
use crate::domain::lockout::{decayed, forgotten_at, Counted};

/// Attempts that lose this many races in a row are refused as if locked: a stampede on one
/// row must not turn into a stampede on the hashing pool.
const MAX_RACES: usize = 32;

/// What a reservation found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// Counted as the `failures`-th failure already; it may be hashed. Success takes it
    /// back.
    Granted { failures: i64 },
    /// Locked (or too contended): refused, nothing written.
    Locked { wait_secs: i64 },
}

#[derive(FromRow)]
struct Row {
    failures: i64,
    version: i64,
    locked_until: i64,
    updated_at: i64,
}

/// Counts one attempt for `key` unless it is locked now.
pub async fn reserve(
    db: &Db,
    key: &str,
    counted: Counted,
    now: i64,
) -> Result<Reservation, sqlx::Error> {
    for _ in 0..MAX_RACES {
        let row: Option<Row> = sqlx::query_as(
            "SELECT failures, version, locked_until, updated_at FROM attempt_throttle \
             WHERE key_hash = $1",
        )
        .bind(key)
        .fetch_optional(&db.pool)
        .await?;
        let (written, failures) = match row {
            Some(row) if row.locked_until > now => {
                return Ok(Reservation::Locked {
                    wait_secs: row.locked_until - now,
                })
            }
            Some(row) => {
                let failures = decayed(row.failures, now - row.updated_at) + 1;
                let locked_until = counted.lock_after(failures).map_or(0, |secs| now + secs);
                let written = sqlx::query(
                    "UPDATE attempt_throttle SET failures = $1, version = version + 1, \
                     locked_until = $2, updated_at = $3, expires_at = $4 \
                     WHERE key_hash = $5 AND version = $6",
                )
                .bind(failures)
                .bind(locked_until)
                .bind(now)
                .bind(forgotten_at(failures, now, locked_until))
                .bind(key)
                .bind(row.version)
                .execute(&db.pool)
                .await?
                .rows_affected();
                (written, failures)
            }
            None => {
                let locked_until = counted.lock_after(1).map_or(0, |secs| now + secs);
                let written = sqlx::query(
                    "INSERT INTO attempt_throttle \
                     (key_hash, failures, version, locked_until, updated_at, expires_at) \
                     VALUES ($1, 1, 1, $2, $3, $4) ON CONFLICT (key_hash) DO NOTHING",
                )
                .bind(key)
                .bind(locked_until)
                .bind(now)
                .bind(forgotten_at(1, now, locked_until))
                .execute(&db.pool)
                .await?
                .rows_affected();
                (written, 1)
            }
        };
        if written == 1 {
            return Ok(Reservation::Granted { failures });
        }
    }
    Ok(Reservation::Locked { wait_secs: 1 })
}

/// The owner proved who they are: the account's count starts again.
pub async fn forget<'e>(
    e: impl Executor<'e, Database = Any>,
    key: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM attempt_throttle WHERE key_hash = $1")
        .bind(key)
        .execute(e)
        .await?;
    Ok(())
}

/// A granted attempt succeeded: takes back the failure it was counted as, and nothing more
/// (a client address that also holds one valid account must not wipe its count by using it).
pub async fn give_back<'e>(
    e: impl Executor<'e, Database = Any>,
    key: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE attempt_throttle SET failures = failures - 1, version = version + 1 \
         WHERE key_hash = $1 AND failures > 0",
    )
    .bind(key)
    .execute(e)
    .await?;
    Ok(())
}

/// The longest lock on any of `keys` now, read without writing: a request refused here
/// costs one read and no hashing.
pub async fn locked_for(db: &Db, keys: [&str; 2], now: i64) -> Result<Option<i64>, sqlx::Error> {
    let until: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(locked_until) FROM attempt_throttle WHERE key_hash = $1 OR key_hash = $2",
    )
    .bind(keys[0])
    .bind(keys[1])
    .fetch_one(&db.pool)
    .await?;
    Ok(until.filter(|&u| u > now).map(|u| u - now))
}

/// Deletes the rows that no longer matter (count decayed, lock over). Returns how many.
pub async fn purge_expired(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM attempt_throttle WHERE expires_at <= $1")
            .bind(now)
            .execute(&db.pool)
            .await?
            .rows_affected(),
    )
}
