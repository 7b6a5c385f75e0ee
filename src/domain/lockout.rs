//! The lockout policy for password attempts (web sign-in and every re-authentication): a
//! few free mistakes, then locks that double with each further failure, capped; and a count
//! that decays, one failure forgiven per quiet period.
//!
//! The decay is what lets the owner back in: one wrong attempt every fifteen minutes used
//! to keep an account locked for good, because the count only grew. Now such a trickle never
//! reaches a lock, and a correct password once a lock has ended always works. Brute force
//! costs the same as before: past the free attempts, one guess per decay period at best,
//! which is the rate the longest lock already allowed.
//!
//! Decided from the stored count alone, before any hashing.

/// Failures allowed for one account before the first lock.
pub const FREE_FAILURES: i64 = 5;
/// Failures allowed from one client address before it is locked: higher, because many
/// people may share an address (an office, a carrier's NAT) and each may mistype.
pub const FREE_FAILURES_PER_ADDRESS: i64 = 30;
const FIRST_LOCK_SECS: i64 = 30;
pub const MAX_LOCK_SECS: i64 = 15 * 60;
/// One failure is forgiven per this many seconds without attempts.
pub const DECAY_SECS: i64 = MAX_LOCK_SECS;

/// What is counted: one account (by the typed address) or one client address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counted {
    Account,
    Address,
}

impl Counted {
    pub fn free_failures(self) -> i64 {
        match self {
            Self::Account => FREE_FAILURES,
            Self::Address => FREE_FAILURES_PER_ADDRESS,
        }
    }

    /// How long to lock once the `failures`-th failure is counted, if at all.
    pub fn lock_after(self, failures: i64) -> Option<i64> {
        let free = self.free_failures();
        if failures < free {
            return None;
        }
        let doublings = u32::try_from(failures - free).unwrap_or(u32::MAX).min(16);
        Some((FIRST_LOCK_SECS << doublings).min(MAX_LOCK_SECS))
    }
}

/// The locks in order: the first for the failure that uses up the free ones, then one per
/// further failure, up to the longest, which holds from then on. The same for accounts and
/// addresses once their free failures are used up.
pub fn lock_steps() -> Vec<i64> {
    let mut steps = Vec::new();
    let mut failures = FREE_FAILURES;
    while let Some(secs) = Counted::Account.lock_after(failures) {
        steps.push(secs);
        if secs >= MAX_LOCK_SECS {
            break;
        }
        failures += 1;
    }
    steps
}

/// The count left of `failures` after `quiet_secs` without any attempt.
pub fn decayed(failures: i64, quiet_secs: i64) -> i64 {
    (failures - quiet_secs.max(0) / DECAY_SECS).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_four_failures_are_free() {
        for n in 0..FREE_FAILURES {
            assert_eq!(Counted::Account.lock_after(n), None);
        }
    }

    #[test]
    fn locks_double_from_thirty_seconds() {
        assert_eq!(Counted::Account.lock_after(5), Some(30));
        assert_eq!(Counted::Account.lock_after(6), Some(60));
        assert_eq!(Counted::Account.lock_after(7), Some(120));
    }

    #[test]
    fn a_lock_never_exceeds_fifteen_minutes() {
        assert_eq!(Counted::Account.lock_after(12), Some(900));
        assert_eq!(Counted::Account.lock_after(i64::MAX), Some(900));
    }

    #[test]
    fn an_address_gets_more_free_failures_than_an_account() {
        assert_eq!(Counted::Address.lock_after(FREE_FAILURES), None);
        assert_eq!(
            Counted::Address.lock_after(FREE_FAILURES_PER_ADDRESS),
            Some(30)
        );
    }

    #[test]
    fn the_steps_are_the_policy_for_both_kinds() {
        assert_eq!(lock_steps(), vec![30, 60, 120, 240, 480, 900]);
        for counted in [Counted::Account, Counted::Address] {
            let free = counted.free_failures();
            assert!(free > 1, "a first failure never locks");
            for (k, secs) in lock_steps().iter().enumerate() {
                assert_eq!(counted.lock_after(free + k as i64), Some(*secs));
            }
            assert_eq!(counted.lock_after(free + 100), Some(MAX_LOCK_SECS));
        }
    }

    #[test]
    fn one_failure_is_forgiven_per_quiet_period() {
        assert_eq!(decayed(5, 0), 5);
        assert_eq!(decayed(5, DECAY_SECS - 1), 5);
        assert_eq!(decayed(5, DECAY_SECS), 4);
        assert_eq!(decayed(5, 3 * DECAY_SECS), 2);
        assert_eq!(decayed(5, 100 * DECAY_SECS), 0);
        assert_eq!(decayed(5, -10), 5, "a clock step back forgives nothing");
    }

    #[test]
    fn a_trickle_of_one_failure_per_period_never_locks() {
        let mut failures = 0;
        for _ in 0..100 {
            failures = decayed(failures, DECAY_SECS) + 1;
            assert_eq!(Counted::Account.lock_after(failures), None);
        }
    }
}
