//! The client's address: the socket peer, or, when the peer is a configured reverse proxy,
//! the nearest address in `X-Forwarded-For` that is not itself a trusted proxy. Nobody
//! else's `X-Forwarded-For` is believed, so a client cannot pick its own rate-limit key.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;

use super::AppState;
use crate::error::AppError;

pub struct ClientIp(pub String);

pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|part| part.trim().parse().ok())
        .collect();
    // Walk from the proxy nearest to us outwards; the first untrusted hop is the client.
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .unwrap_or(peer)
}

impl<S> FromRequestParts<S> for ClientIp
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("no peer address on the request")))?;
        Ok(ClientIp(
            resolve(peer, &parts.headers, &state.settings.trusted_proxies).to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn a_direct_clients_forwarded_header_is_ignored() {
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(resolve(peer, &headers("1.2.3.4"), &[]), peer);
    }

    #[test]
    fn behind_a_trusted_proxy_the_nearest_untrusted_hop_is_the_client() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        let resolved = resolve(proxy, &headers("6.6.6.6, 198.51.100.7, 10.0.0.1"), &trusted);
        assert_eq!(resolved, "198.51.100.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_trusted_proxy_without_a_header_is_the_client() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            resolve(proxy, &HeaderMap::new(), &["10.0.0.0/8".parse().unwrap()]),
            proxy
        );
    }
}
