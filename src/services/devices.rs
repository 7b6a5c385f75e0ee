//! Which browsers and networks each account has signed in from, so that a sign-in from a
//! new one is reported (`notices::Notice::NewSignIn`).
//!
//! A browser is known by a long-lived random cookie (only its digest is kept, per account);
//! a network is the client's IPv4 address or its IPv6 /64 (a device's privacy addresses
//! change within one /64). A sign-in is new when either was not seen for this account
//! before. An account's first sign-in (nothing remembered yet) is not reported: there is
//! nothing to compare it with.

use std::net::IpAddr;

use super::notices::{self, Notice};
use super::Services;
use crate::error::{AppError, AppResult};
use crate::infra::random::{random_token, token_digest};
use crate::store::known_devices::{self, Seen};
use crate::store::users::UserRow;
use crate::store::Tx;

/// A device cookie this server could have made (43 URL-safe base64 symbols); anything else
/// is replaced by a new one.
fn plausible(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The network `ip` is counted in.
pub fn network_of(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            ipnet::Ipv6Net::new(v6, 64).map_or_else(|_| ip.to_owned(), |n| n.trunc().to_string())
        }
        Ok(IpAddr::V6(v6)) => v6
            .to_ipv4_mapped()
            .map_or_else(|| ip.to_owned(), |v4| v4.to_string()),
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

/// Remembers this sign-in's browser (`device`: its cookie, if it had one) and network for
/// `user`, in `tx`, the sign-in's transaction; queues a notice when either is new to an
/// account that signed in before. Returns a new device token when the browser needs one
/// (the caller sets it as a cookie).
pub async fn signed_in(
    state: &Services,
    tx: &mut Tx,
    user: &UserRow,
    device: Option<&str>,
    ip: &str,
) -> AppResult<Option<String>> {
    let (token, fresh) = match device.filter(|d| plausible(d)) {
        Some(token) => (token.to_owned(), None),
        None => {
            let token = random_token().map_err(AppError::internal)?;
            (token.clone(), Some(token))
        }
    };
    let digest = token_digest(&token);
    let network = network_of(ip);
    let now = state.now();
    let seen_before = known_devices::any_for_user(&mut **tx, user.id).await?;
    let new_device = !known_devices::is_known(&mut **tx, user.id, Seen::Device, &digest).await?;
    let new_network = !known_devices::is_known(&mut **tx, user.id, Seen::Network, &network).await?;
    known_devices::remember(&mut **tx, user.id, Seen::Device, &digest, now).await?;
    known_devices::remember(&mut **tx, user.id, Seen::Network, &network, now).await?;
    if seen_before && (new_device || new_network) {
        let notice = Notice::NewSignIn {
            new_device,
            new_network,
        };
        notices::enqueue(state, tx, user, &notice, Some(ip)).await?;
    }
    Ok(fresh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_count_by_their_64_and_ipv4_by_the_address() {
        assert_eq!(network_of("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(network_of("2001:db8:1:2:bbbb::9"), "2001:db8:1:2::/64");
        assert_eq!(network_of("192.0.2.7"), "192.0.2.7");
        assert_eq!(network_of("::ffff:192.0.2.7"), "192.0.2.7");
        assert!(plausible(&random_token().unwrap_or_default()));
        assert!(!plausible("short"));
    }
}
