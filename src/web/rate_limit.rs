//! Per-client-IP rate limits, in memory (each instance limits on its own; the per-account
//! lock in the database is what holds across instances).

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::AppError;

/// Forget idle keys once this many are tracked, so the map cannot grow without bound.
const PRUNE_ABOVE: usize = 10_000;

pub struct RateLimits {
    sign_in: DefaultKeyedRateLimiter<String>,
    check_per_user: DefaultKeyedRateLimiter<String>,
    check_per_ip: DefaultKeyedRateLimiter<String>,
}

impl RateLimits {
    pub fn new(sign_in_per_minute: u32, checks_per_minute: u32) -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self {
            sign_in: RateLimiter::keyed(quota(sign_in_per_minute)),
            check_per_user: RateLimiter::keyed(quota(checks_per_minute)),
            check_per_ip: RateLimiter::keyed(quota(checks_per_minute)),
        }
    }

    /// One connection test by `user` from `ip`: both must be within their quota, so the
    /// test cannot serve as a password-guessing oracle.
    pub fn check(&self, user: &str, ip: &str) -> Result<(), AppError> {
        check(&self.check_per_user, user)?;
        check(&self.check_per_ip, ip)
    }

    /// One web sign-in attempt from `ip`; `TooManyRequests` past the quota.
    pub fn sign_in(&self, ip: &str) -> Result<(), AppError> {
        check(&self.sign_in, ip)
    }
}

fn check(limiter: &DefaultKeyedRateLimiter<String>, key: &str) -> Result<(), AppError> {
    if limiter.len() > PRUNE_ABOVE {
        limiter.retain_recent();
    }
    limiter
        .check_key(&key.to_owned())
        .map_err(|_| AppError::TooManyRequests)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ip_past_its_quota_is_refused_and_others_are_not() {
        let limits = RateLimits::new(3, 3);
        for _ in 0..3 {
            assert!(limits.sign_in("192.0.2.1").is_ok());
        }
        assert!(matches!(
            limits.sign_in("192.0.2.1"),
            Err(AppError::TooManyRequests)
        ));
        assert!(limits.sign_in("192.0.2.2").is_ok());
    }
}
