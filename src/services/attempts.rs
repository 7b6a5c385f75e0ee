//! Every check of a typed password against an account's main-password hash goes through
//! here: web sign-in, the current password of a password change, and the connection test's
//! "is this your main password?". They share one count per account and one per client
//! address, kept in the database (so it holds across instances), with the same growing,
//! decaying locks (`domain::lockout`).
//!
//! The order matters. A lock is read first (one read, or none when this instance already
//! knows the lock: `known_locks`; a locked request costs nothing more and writes nothing).
//! Then the attempt takes its place in both counts, atomically, before it may queue for a
//! hashing thread: of 200 simultaneous wrong passwords for one account, only the free ones
//! are ever hashed. A correct password takes its place back.

use super::notices::{self, Notice};
use super::Services;
use crate::domain::lockout::Counted;
use crate::error::AppResult;
use crate::store::throttle::{self, Reservation};
use crate::store::users::UserRow;
use crate::store::Tx;

/// An attempt that may be hashed; it already counts as a failure.
pub struct Attempt {
    account: String,
    address: String,
    /// Which failure this attempt is for the account, if it turns out wrong.
    pub failures: i64,
}

pub enum Admission {
    Granted(Attempt),
    /// Refused without hashing: try again in `wait_secs`.
    Locked {
        wait_secs: i64,
    },
}

/// Decides whether an attempt at `typed_account`'s password from `ip` may be hashed.
pub async fn admit(state: &Services, typed_account: &str, ip: &str) -> AppResult<Admission> {
    let now = state.now();
    let account = state.attempt_keys.account(typed_account);
    let address = state.attempt_keys.address(ip);
    let keys = [account.as_str(), address.as_str()];
    if let Some(wait_secs) = state.known_locks.wait_secs(keys, now) {
        return Ok(Admission::Locked { wait_secs });
    }
    let locks = throttle::locks_on(&state.db, keys, now).await?;
    if let Some(wait_secs) = locks.iter().map(|(_, until)| until - now).max() {
        state.known_locks.remember(&locks, now);
        return Ok(Admission::Locked { wait_secs });
    }
    match throttle::reserve(&state.db, &account, &address, now).await? {
        Reservation::Locked { wait_secs } => Ok(Admission::Locked { wait_secs }),
        Reservation::Granted { failures } => {
            if Counted::Account.lock_after(failures).is_some() {
                // This attempt used up the account's free ones: a lock starts with it,
                // whichever path (sign-in, password change, connection test) it came by.
                state.metrics.lock_set();
            }
            Ok(Admission::Granted(Attempt {
                account,
                address,
                failures,
            }))
        }
    }
}

impl Attempt {
    /// The keyed hash of the typed account address, for the audit entry of a failure.
    pub fn account_key(&self) -> &str {
        &self.account
    }

    /// Whether this attempt, if wrong, starts a lock of the account.
    pub fn starts_lock(&self) -> bool {
        Counted::Account.lock_after(self.failures).is_some()
    }

    /// The password was wrong. When this failure started a lock of `account` (a known
    /// account: a lock starts with one counted failure, and while it holds attempts are
    /// refused uncounted, so this is once per lock), its owner is told, in `tx`.
    pub async fn failed(
        &self,
        state: &Services,
        tx: &mut Tx,
        account: Option<&UserRow>,
        ip: &str,
    ) -> AppResult<()> {
        let (Some(user), Some(secs)) = (account, Counted::Account.lock_after(self.failures)) else {
            return Ok(());
        };
        let notice = Notice::AccountLocked {
            minutes: (secs + 59) / 60,
        };
        notices::enqueue(state, tx, user, &notice, Some(ip)).await
    }

    /// The password was right: the account's count starts again and the address gets this
    /// attempt back, in the caller's transaction.
    pub async fn succeeded(&self, tx: &mut Tx) -> Result<(), sqlx::Error> {
        throttle::forget(&mut **tx, &self.account).await?;
        throttle::give_back(&mut **tx, &self.address).await
    }
}

impl Attempt {
    /// The password was right but a second factor is still owed: the attempt is taken back
    /// from both counts and the account's count is not reset.
    pub async fn given_back(&self, tx: &mut Tx) -> Result<(), sqlx::Error> {
        throttle::give_back(&mut **tx, &self.account).await?;
        throttle::give_back(&mut **tx, &self.address).await
    }
}

/// Deletes the counts that no longer matter; run now and then.
pub async fn purge_expired(state: &Services) -> AppResult<u64> {
    Ok(throttle::purge_expired(&state.db, state.now()).await?)
}
