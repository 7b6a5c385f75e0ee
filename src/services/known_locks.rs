//! The attempt locks this instance has read, kept in memory until they end, so that a flood
//! at a locked account (or from a locked address) is refused without a database read.
//!
//! This is exact, not a guess: a lock only ends when its time is up (nothing unlocks early:
//! a locked account cannot sign in, and no admin action clears a lock), so a lock read once
//! holds until the time read with it. Only locks are kept, never their absence: a lock set
//! by another instance, or one extended meanwhile, is found by the next database read.

use std::collections::HashMap;
use std::sync::Mutex;

/// Locks kept at most; past this, ended ones are dropped, and if that is not enough, all
/// (they are read again on the next attempt), so memory stays bounded under any flood.
const KEEP_AT_MOST: usize = 10_000;

/// Locked attempt keys (keyed hashes, as stored) and when each lock ends (Unix seconds).
#[derive(Default)]
pub struct KnownLocks {
    until: Mutex<HashMap<String, i64>>,
}

impl KnownLocks {
    /// Seconds until the longer of the known locks on `keys` ends, if either is locked at
    /// `now`.
    pub fn wait_secs(&self, keys: [&str; 2], now: i64) -> Option<i64> {
        let until = self.until.lock().ok()?;
        keys.iter()
            .filter_map(|key| until.get(*key))
            .filter(|&&ends| ends > now)
            .max()
            .map(|ends| ends - now)
    }

    /// Remembers locks read from the database: each key with the time its lock ends.
    pub fn remember(&self, locks: &[(String, i64)], now: i64) {
        let Ok(mut until) = self.until.lock() else {
            return;
        };
        if until.len() + locks.len() > KEEP_AT_MOST {
            until.retain(|_, ends| *ends > now);
            if until.len() + locks.len() > KEEP_AT_MOST {
                until.clear();
            }
        }
        for (key, ends) in locks {
            until.insert(key.clone(), *ends);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_lock_holds_until_its_end_and_not_after() {
        let locks = KnownLocks::default();
        assert_eq!(locks.wait_secs(["account:a", "address:b"], 100), None);
        locks.remember(&[("account:a".into(), 160)], 100);
        assert_eq!(locks.wait_secs(["account:a", "address:c"], 100), Some(60));
        assert_eq!(locks.wait_secs(["address:b", "account:a"], 159), Some(1));
        assert_eq!(locks.wait_secs(["account:a", "address:b"], 160), None);
        assert_eq!(locks.wait_secs(["account:z", "address:b"], 100), None);
    }

    #[test]
    fn the_longer_of_two_locks_is_the_wait() {
        let locks = KnownLocks::default();
        locks.remember(&[("account:a".into(), 130), ("address:b".into(), 400)], 100);
        assert_eq!(locks.wait_secs(["account:a", "address:b"], 100), Some(300));
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_keys() {
        let locks = KnownLocks::default();
        for n in 0..3 * KEEP_AT_MOST {
            locks.remember(&[(format!("address:{n}"), 1_000)], 100);
        }
        let kept = locks.until.lock().unwrap().len();
        assert!(kept <= KEEP_AT_MOST, "{kept} kept");
        assert!(kept > 0);
    }
}
