//! The web sign-in lockout policy: a few free mistakes, then locks that double with each
//! further failure, capped. Decided from the failure count alone, before any hashing.

/// Failures allowed before the first lock.
pub const FREE_FAILURES: i64 = 5;
const FIRST_LOCK_SECS: i64 = 30;
const MAX_LOCK_SECS: i64 = 15 * 60;

/// How long to lock after the `failures`-th consecutive failure, if at all.
pub fn lock_after(failures: i64) -> Option<i64> {
    if failures < FREE_FAILURES {
        return None;
    }
    let doublings = u32::try_from(failures - FREE_FAILURES)
        .unwrap_or(u32::MAX)
        .min(16);
    Some((FIRST_LOCK_SECS << doublings).min(MAX_LOCK_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_four_failures_are_free() {
        for n in 0..FREE_FAILURES {
            assert_eq!(lock_after(n), None);
        }
    }

    #[test]
    fn locks_double_from_thirty_seconds() {
        assert_eq!(lock_after(5), Some(30));
        assert_eq!(lock_after(6), Some(60));
        assert_eq!(lock_after(7), Some(120));
    }

    #[test]
    fn a_lock_never_exceeds_fifteen_minutes() {
        assert_eq!(lock_after(12), Some(900));
        assert_eq!(lock_after(i64::MAX), Some(900));
    }
}
