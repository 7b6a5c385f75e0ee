//! Failed password attempts per account and per client address, shared by every instance
//! through the database. Keys are keyed hashes (see `infra::attempt_keys`), never typed text.
//!
//! An attempt takes its place in both counts *before* it may be hashed, in one upsert: the
//! database serialises writers to a row, so of many simultaneous attempts only as many as
//! the policy allows find the row unlocked; the rest are refused without hashing. The
//! policy's arithmetic (decay, growing locks) is written into that statement from the
//! constants of `domain::lockout`, so there is one policy, not two.

use std::sync::OnceLock;

use sqlx::{Any, Executor};

use super::Db;
use crate::domain::lockout::{lock_steps, Counted, DECAY_SECS};

/// What a reservation found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// Counted as the account's `failures`-th failure already; it may be hashed. Success
    /// takes it back.
    Granted { failures: i64 },
    /// The account or the address is locked: refused.
    Locked { wait_secs: i64 },
}

/// The longest lock on any of `keys` now, read without writing: a request refused here
/// costs one read, no write and no hashing.
pub async fn locked_for(db: &Db, keys: [&str; 2], now: i64) -> Result<Option<i64>, sqlx::Error> {
    let locks = locks_on(db, keys, now).await?;
    Ok(locks.iter().map(|(_, until)| until - now).max())
}

/// The locks on any of `keys` that last beyond `now`: each locked key with the time its lock
/// ends. Read without writing.
pub async fn locks_on(
    db: &Db,
    keys: [&str; 2],
    now: i64,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT key_hash, locked_until FROM attempt_throttle \
         WHERE (key_hash = $1 OR key_hash = $2) AND locked_until > $3",
    )
    .bind(keys[0])
    .bind(keys[1])
    .bind(now)
    .fetch_all(&db.attempts)
    .await
}

/// Counts one attempt for the `account` key and the `address` key, unless either is locked
/// now. A row that is locked is left as it is.
pub async fn reserve(
    db: &Db,
    account: &str,
    address: &str,
    now: i64,
) -> Result<Reservation, sqlx::Error> {
    let counted: Vec<(String, i64)> = sqlx::query_as(reserve_sql())
        .bind(account)
        .bind(Counted::Account.free_failures())
        .bind(address)
        .bind(Counted::Address.free_failures())
        .bind(now)
        .fetch_all(&db.attempts)
        .await?;
    let account_failures = counted.iter().find(|(key, _)| key == account);
    match account_failures {
        Some((_, failures)) if counted.len() == 2 => Ok(Reservation::Granted {
            failures: *failures,
        }),
        _ => Ok(Reservation::Locked {
            wait_secs: locked_for(db, [account, address], now).await?.unwrap_or(1),
        }),
    }
}

/// The upsert: $1/$2 the account's key and free failures, $3/$4 the address's, $5 now.
/// Every expression in `SET` reads the row as it was, on SQLite and PostgreSQL alike.
fn reserve_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let t = "attempt_throttle";
        let quiet_periods =
            format!("(CASE WHEN $5 > {t}.updated_at THEN ($5 - {t}.updated_at) / {DECAY_SECS} ELSE 0 END)");
        let next = format!(
            "((CASE WHEN {t}.failures - {quiet_periods} > 0 THEN {t}.failures - {quiet_periods} ELSE 0 END) + 1)"
        );
        let mut lock = format!("CASE WHEN {next} < {t}.free_failures THEN 0");
        let steps = lock_steps();
        for (k, secs) in steps.iter().enumerate() {
            lock.push_str(&format!(" WHEN {next} - {t}.free_failures = {k} THEN $5 + {secs}"));
        }
        lock.push_str(&format!(" ELSE $5 + {} END", steps.last().copied().unwrap_or(0)));
        // A first failure never locks (`lockout` tests that every kind has free ones).
        format!(
            "INSERT INTO {t} (key_hash, failures, free_failures, locked_until, updated_at, expires_at) \
             VALUES ($1, 1, $2, 0, $5, $5 + {DECAY_SECS}), ($3, 1, $4, 0, $5, $5 + {DECAY_SECS}) \
             ON CONFLICT (key_hash) DO UPDATE SET failures = {next}, locked_until = {lock}, \
             updated_at = $5, expires_at = $5 + {next} * {DECAY_SECS} \
             WHERE {t}.locked_until <= $5 \
             RETURNING key_hash, failures"
        )
    })
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
        "UPDATE attempt_throttle SET failures = failures - 1 WHERE key_hash = $1 AND failures > 0",
    )
    .bind(key)
    .execute(e)
    .await?;
    Ok(())
}

/// Deletes the rows that no longer matter (count decayed, lock over). Returns how many.
pub async fn purge_expired(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM attempt_throttle WHERE expires_at <= $1")
            .bind(now)
            .execute(&db.attempts)
            .await?
            .rows_affected(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::lockout::decayed;

    /// The policy as `domain::lockout` states it, for one row.
    struct Model {
        counted: Counted,
        failures: i64,
        updated_at: i64,
        locked_until: i64,
    }

    impl Model {
        fn new(counted: Counted) -> Self {
            Self {
                counted,
                failures: 0,
                updated_at: 0,
                locked_until: 0,
            }
        }

        /// Counts an attempt at `now` unless locked; says whether it was counted.
        fn attempt(&mut self, now: i64) -> bool {
            if self.locked_until > now {
                return false;
            }
            self.failures = decayed(self.failures, now - self.updated_at) + 1;
            self.locked_until = self
                .counted
                .lock_after(self.failures)
                .map_or(0, |s| now + s);
            self.updated_at = now;
            true
        }
    }

    #[tokio::test]
    async fn the_statement_counts_as_the_policy_says() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let db = Db::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        let (mut account, mut address) =
            (Model::new(Counted::Account), Model::new(Counted::Address));
        let gaps = [
            0, 1, 0, 0, 0, 0, 31, 0, 61, 100, 900, 1800, 0, 0, 0, 7, 0, 2000, 0, 0, 5000, 45,
        ];
        let mut now = 1_000_000;
        let mut locked = 0;
        for (step, gap) in gaps.iter().cycle().take(300).enumerate() {
            now += gap;
            let got = reserve(&db, "account:a", "address:b", now).await.unwrap();
            let (counted_account, counted_address) = (account.attempt(now), address.attempt(now));
            let want = if counted_account && counted_address {
                Reservation::Granted {
                    failures: account.failures,
                }
            } else {
                let until = account.locked_until.max(address.locked_until);
                Reservation::Locked {
                    wait_secs: if until > now { until - now } else { 1 },
                }
            };
            assert_eq!(got, want, "step {step} at +{}", now - 1_000_000);
            locked += usize::from(matches!(got, Reservation::Locked { .. }));
        }
        assert!(
            (50..250).contains(&locked),
            "{locked} of 300 locked: both outcomes exercised"
        );
    }
}
