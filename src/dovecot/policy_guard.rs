//! Wrong policy secrets, counted per source address in memory: an address that sent
//! [`WRONG_SECRETS_PER_MINUTE`] wrong secrets within a minute gets 429 for every request until
//! that minute is over, before its secret is compared or its body read.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const WRONG_SECRETS_PER_MINUTE: u32 = 10;
const WINDOW: Duration = Duration::from_secs(60);
/// Forget finished windows once this many addresses are tracked, so the map stays bounded.
const PRUNE_ABOVE: usize = 10_000;

/// When an address's current window started, and its wrong secrets in it.
#[derive(Default)]
pub struct WrongSecrets {
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl WrongSecrets {
    /// Whether `ip` used up its wrong secrets for the current minute.
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> bool {
        let Ok(seen) = self.seen.lock() else {
            return false;
        };
        seen.get(&ip).is_some_and(|&(start, count)| {
            now.duration_since(start) < WINDOW && count >= WRONG_SECRETS_PER_MINUTE
        })
    }

    /// Counts one wrong secret from `ip`.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        if seen.len() > PRUNE_ABOVE {
            seen.retain(|_, &mut (start, _)| now.duration_since(start) < WINDOW);
        }
        let entry = seen.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_after_its_wrong_secrets_and_others_are_not() {
        let guard = WrongSecrets::default();
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let now = Instant::now();
        for _ in 0..WRONG_SECRETS_PER_MINUTE - 1 {
            guard.failed(a, now);
        }
        assert!(!guard.blocked(a, now));
        guard.failed(a, now);
        assert!(guard.blocked(a, now));
        assert!(!guard.blocked(b, now));
    }

    #[test]
    fn the_block_ends_with_the_minute() {
        let guard = WrongSecrets::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let start = Instant::now();
        for _ in 0..WRONG_SECRETS_PER_MINUTE {
            guard.failed(ip, start);
        }
        assert!(guard.blocked(ip, start + Duration::from_secs(59)));
        assert!(!guard.blocked(ip, start + WINDOW));
        // A new window starts from zero.
        guard.failed(ip, start + WINDOW);
        assert!(!guard.blocked(ip, start + WINDOW));
    }
}
