//! The web listener: an accept loop with limits, so slow or idle clients cannot hold the
//! service's file descriptors, and a graceful stop.
//!
//! - A client has `http_header_timeout_secs` to send a complete request head, counted from
//!   when the connection opens or the previous response ends (hyper's header-read timer), so
//!   silent, trickling and idle keep-alive connections are all closed after that time.
//! - At most `max_connections` connections at once (lowered to fit the process's descriptor
//!   limit), and `max_connections_per_address` from one client address (IPv6: one /64);
//!   connections from `trusted_proxies` count only toward the total. A connection over a
//!   cap is closed at once, before anything is read from it.
//! - Accept errors (`EMFILE`, `ENFILE`, …) pause accepting briefly instead of spinning.
//! - On shutdown: stop accepting (the socket is closed, so new connections are refused),
//!   let each connection finish the request it is serving (idle ones close at once), wait
//!   for them at most `grace`, then return.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

/// How many descriptors are kept out of the connection budget for everything else: the
/// database pool, SQLite's files, doveadm and IMAP clients, the policy listener.
const RESERVED_DESCRIPTORS: u64 = 64;
/// Pause after an accept error such as `EMFILE`, so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

#[derive(Clone, Debug)]
pub struct ListenerLimits {
    pub header_timeout: Duration,
    pub max_connections: usize,
    pub max_per_address: usize,
    /// Peers counted only toward the total (reverse proxies carry many clients).
    pub exempt: Vec<IpNet>,
    /// How long a graceful stop waits for in-flight requests.
    pub grace: Duration,
}

/// The live connections: in total and per client address.
#[derive(Debug)]
pub struct ConnectionCounter {
    max_total: usize,
    max_per_address: usize,
    exempt: Vec<IpNet>,
    state: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping it gives its place back.
#[derive(Debug)]
pub struct Admitted {
    counter: Arc<ConnectionCounter>,
    key: Option<IpAddr>,
}

/// The address a connection is counted under: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by
/// its /64, which one host or one home usually holds entirely.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

impl ConnectionCounter {
    pub fn new(max_total: usize, max_per_address: usize, exempt: Vec<IpNet>) -> Arc<Self> {
        Arc::new(Self {
            max_total,
            max_per_address,
            exempt,
            state: Mutex::new(Counts::default()),
        })
    }

    /// A place for a connection from `peer`, or `None` when a cap is reached.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<Admitted> {
        let key = (!self.exempt.iter().any(|net| net.contains(&peer))).then(|| address_key(peer));
        let mut counts = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.total >= self.max_total {
            return None;
        }
        if let Some(key) = key {
            let here = counts.per_address.entry(key).or_insert(0);
            if *here >= self.max_per_address {
                return None;
            }
            *here += 1;
        }
        counts.total += 1;
        Some(Admitted {
            counter: self.clone(),
            key,
        })
    }

    pub fn total(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut counts = self
            .counter
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(key) = self.key {
            if let Some(here) = counts.per_address.get_mut(&key) {
                *here = here.saturating_sub(1);
                if *here == 0 {
                    counts.per_address.remove(&key);
                }
            }
        }
    }
}

/// The process's soft limit on open descriptors, if it has one.
#[cfg(unix)]
fn descriptor_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given, which lives on this stack.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    (ok && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

#[cfg(not(unix))]
fn descriptor_limit() -> Option<u64> {
    None
}

/// `max_connections`, lowered so that the connections and everything else fit under the
/// descriptor limit `fd_limit`.
pub fn effective_max_connections(configured: usize, fd_limit: Option<u64>) -> usize {
    let Some(limit) = fd_limit else {
        return configured;
    };
    let reserve = RESERVED_DESCRIPTORS.max(limit / 4);
    let budget = usize::try_from(limit.saturating_sub(reserve)).unwrap_or(usize::MAX);
    configured.min(budget.max(1))
}

/// Serves `router` on `listener` within `limits` until `shutdown` resolves, then stops
/// gracefully (see the module's documentation).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ListenerLimits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let max_total = effective_max_connections(limits.max_connections, descriptor_limit());
    if max_total < limits.max_connections {
        tracing::warn!(
            max_connections = limits.max_connections,
            used = max_total,
            "max_connections lowered to fit the open-file limit (ulimit -n)"
        );
    }
    let counter = ConnectionCounter::new(max_total, limits.max_per_address, limits.exempt);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut accept_errors = AcceptErrors::default();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                accept_errors.record(&err);
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Some(place) = counter.admit(peer.ip()) else {
            // Over a cap: closed at once, so it holds no descriptor.
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        // The peer's address where `ConnectInfo<SocketAddr>` extractors (`web::client_ip`)
        // find it, as `into_make_service_with_connect_info` would put it.
        let service = hyper::service::service_fn(
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                router.clone().oneshot(request.map(axum::body::Body::new))
            },
        );
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            let _place = place;
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = stop.wait_for(|stop| *stop) => {}
            }
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        });
    }
    // New connections are refused from here on; the open ones finish what they serve.
    drop(listener);
    let _ = stop_tx.send(true);
    let open = connections.len();
    if open > 0 {
        tracing::info!(open, "stopping: waiting for open connections to finish");
    }
    let drained = tokio::time::timeout(limits.grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = connections.len(),
            "stopping: connections still busy after the grace period are closed"
        );
        connections.shutdown().await;
    }
}

/// Accept errors, logged at most every ten seconds with how many there were.
#[derive(Default)]
struct AcceptErrors {
    since_log: u64,
    last_log: Option<Instant>,
}

impl AcceptErrors {
    fn record(&mut self, err: &std::io::Error) {
        self.since_log += 1;
        let due = self
            .last_log
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(10));
        if due {
            tracing::warn!(error = %err, count = self.since_log, "accept error; pausing briefly");
            self.since_log = 0;
            self.last_log = Some(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hold_per_address_and_in_total_and_places_come_back() {
        let counter = ConnectionCounter::new(3, 2, vec!["10.0.0.0/8".parse().unwrap()]);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = counter.admit(a).unwrap();
        let _second = counter.admit(a).unwrap();
        assert!(counter.admit(a).is_none(), "third from one address");
        let _other = counter.admit(b).unwrap();
        assert!(counter.admit(b).is_none(), "total of 3 reached");
        drop(first);
        assert_eq!(counter.total(), 2);
        assert!(counter.admit(a).is_some());
    }

    #[test]
    fn trusted_proxies_count_toward_the_total_only() {
        let counter = ConnectionCounter::new(10, 1, vec!["10.0.0.0/8".parse().unwrap()]);
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let held: Vec<_> = (0..5).map(|_| counter.admit(proxy).unwrap()).collect();
        assert_eq!(held.len(), 5);
        assert_eq!(counter.total(), 5);
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let counter = ConnectionCounter::new(10, 1, Vec::new());
        let _one = counter.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert!(counter
            .admit("2001:db8:1:2::ffff".parse().unwrap())
            .is_none());
        assert!(counter.admit("2001:db8:1:3::1".parse().unwrap()).is_some());
        let _v4 = counter.admit("192.0.2.7".parse().unwrap()).unwrap();
        assert!(counter.admit("::ffff:192.0.2.7".parse().unwrap()).is_none());
    }

    #[test]
    fn the_connection_cap_fits_the_descriptor_limit() {
        assert_eq!(effective_max_connections(512, None), 512);
        assert_eq!(effective_max_connections(512, Some(256)), 192);
        assert_eq!(effective_max_connections(512, Some(1024)), 512);
        assert_eq!(effective_max_connections(100, Some(1024)), 100);
        assert_eq!(effective_max_connections(512, Some(10)), 1);
    }
}
