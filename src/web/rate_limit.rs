//! Per-client-IP rate limits, in memory (each instance limits on its own; the per-account
//! lock in the database is what holds across instances).

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::AppError;

/// Forget idle keys once this many are tracked, so the map cannot grow without bound.
const PRUNE_ABOVE: usize = 10_000;

pub struct RateLimits {
    sign_in: DefaultKeyedRateLimiter<String>,
    /// Sign-in attempts handled at once. A flood then waits, asleep and in order, for its
    /// turn instead of filling the async workers' run queues: a page request finds at most
    /// this many sign-ins ahead of it, not hundreds. The hashing threads are what limits
    /// sign-ins anyway, so a few turns more than them keep those threads busy.
    sign_in_turns: Arc<Semaphore>,
    check_per_user: DefaultKeyedRateLimiter<String>,
    check_per_ip: DefaultKeyedRateLimiter<String>,
}

impl RateLimits {
    /// `sign_in_turns`: sign-in attempts handled at once (at least one).
    pub fn new(sign_in_per_minute: u32, checks_per_minute: u32, sign_in_turns: usize) -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self {
            sign_in: RateLimiter::keyed(quota(sign_in_per_minute)),
            sign_in_turns: Arc::new(Semaphore::new(sign_in_turns.max(1))),
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

    /// One web sign-in attempt (a password, a code or a passkey) from `ip`:
    /// `TooManyRequests` past the quota, otherwise its turn once one is free, to be held
    /// until the attempt is answered.
    pub async fn sign_in(&self, ip: &str) -> Result<SignInTurn, AppError> {
        check(&self.sign_in, ip)?;
        let permit = self
            .sign_in_turns
            .clone()
            .acquire_owned()
            .await
            .map_err(AppError::internal)?;
        Ok(SignInTurn(permit))
    }
}

/// Sign-in attempts handled at once for the `hash_concurrency` setting: twice the hashing
/// threads plus two (the README states this), enough to keep every hashing thread busy while
/// the others read the database or render their answer.
pub fn sign_in_turns(hash_concurrency: usize) -> usize {
    2 * crate::infra::hashing::threads_for(hash_concurrency) + 2
}

/// A sign-in attempt's turn; the next waiting attempt goes when it is dropped.
#[must_use = "the turn ends when this is dropped"]
pub struct SignInTurn(#[allow(dead_code)] OwnedSemaphorePermit);

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

    #[tokio::test]
    async fn an_ip_past_its_quota_is_refused_and_others_are_not() {
        let limits = RateLimits::new(3, 3, 8);
        for _ in 0..3 {
            assert!(limits.sign_in("192.0.2.1").await.is_ok());
        }
        assert!(matches!(
            limits.sign_in("192.0.2.1").await,
            Err(AppError::TooManyRequests)
        ));
        assert!(limits.sign_in("192.0.2.2").await.is_ok());
    }

    #[test]
    fn turns_are_twice_the_hashing_threads_plus_two() {
        assert_eq!(sign_in_turns(1), 4);
        assert_eq!(sign_in_turns(3), 8);
        let default = crate::infra::hash_pool::default_threads();
        assert_eq!(sign_in_turns(0), 2 * default + 2);
    }

    #[tokio::test]
    async fn sign_ins_past_the_turns_wait_until_one_ends() {
        let limits = RateLimits::new(100, 3, 2);
        let first = limits.sign_in("192.0.2.1").await.unwrap();
        let _second = limits.sign_in("192.0.2.2").await.unwrap();
        let third = limits.sign_in("192.0.2.3");
        tokio::pin!(third);
        let waited =
            tokio::time::timeout(std::time::Duration::from_millis(50), third.as_mut()).await;
        assert!(
            waited.is_err(),
            "a third attempt waits while two are handled"
        );
        drop(first);
        let turn = tokio::time::timeout(std::time::Duration::from_secs(1), third).await;
        assert!(matches!(turn, Ok(Ok(_))), "and goes once one ends");
    }
}
