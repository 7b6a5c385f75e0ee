//! The web listener's limits on loopback, bounded in count and time: the header-read
//! timeout, the per-address and descriptor-bound connection caps, the request time limit.
//! The listener does not depend on the database, so these run on SQLite only.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use mailkeys_test_support::prelude::*;

/// A TCP connection to `to` from the loopback address `from` (127.0.0.x).
pub async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

/// Whether the server closes `stream` (end of stream or reset) within `within`, reading
/// and discarding whatever it sends first.
pub async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// `GET path` on a fresh connection from `from`; the status line and body, or `None` if
/// the server closed the connection without an answer.
pub async fn get_from(from: &str, to: SocketAddr, path: &str) -> Option<String> {
    let mut stream = connect_from(from, to).await;
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return None;
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("an answer or a close within 5 s");
    (read.is_ok() && !answer.is_empty()).then(|| String::from_utf8_lossy(&answer).into_owned())
}

async fn silent_trickling_and_idle_connections_are_closed_after_the_header_timeout() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.http_header_timeout_secs = 1;
        s.max_connections_per_address = 100;
    })
    .await;
    let mut silent = Vec::new();
    let mut trickling = Vec::new();
    for _ in 0..20 {
        silent.push(TcpStream::connect(app.addr).await.unwrap());
        let mut t = TcpStream::connect(app.addr).await.unwrap();
        t.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        trickling.push(t);
    }
    // A keep-alive connection that served one request, then says nothing.
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 256];
    let n = idle.read(&mut first).await.unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));

    let started = Instant::now();
    // The trickling ones send a header byte every 200 ms, which must not keep them open.
    let trickle = async {
        let mut closed = vec![false; trickling.len()];
        while started.elapsed() < Duration::from_secs(4) && closed.contains(&false) {
            for (i, t) in trickling.iter_mut().enumerate() {
                if !closed[i] && t.write_all(b"X").await.is_err() {
                    closed[i] = true;
                }
            }
            for (i, t) in trickling.iter_mut().enumerate() {
                if !closed[i] {
                    closed[i] = closed_within(t, Duration::from_millis(10)).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        closed
    };
    let closed = trickle.await;
    assert!(
        closed.iter().all(|c| *c),
        "trickling connections still open after 4 s: {}",
        closed.iter().filter(|c| !**c).count()
    );
    for s in &mut silent {
        assert!(
            closed_within(s, Duration::from_secs(1)).await,
            "a silent connection stayed open"
        );
    }
    assert!(
        closed_within(&mut idle, Duration::from_secs(1)).await,
        "an idle keep-alive connection stayed open"
    );
    // Closed after the timeout, not before.
    assert!(started.elapsed() >= Duration::from_millis(800));
    assert!(get_from("127.0.0.1", app.addr, "/healthz").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_closed_after_the_header_timeout() {
    silent_trickling_and_idle_connections_are_closed_after_the_header_timeout().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_per_address_cap_a_connection_is_closed_and_other_addresses_are_served() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.max_connections_per_address = 5).await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(connect_from("127.0.0.1", app.addr).await);
    }
    // Give the server time to accept (and count) the five.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut sixth = connect_from("127.0.0.1", app.addr).await;
    let started = Instant::now();
    assert!(
        closed_within(&mut sixth, Duration::from_secs(2)).await,
        "the sixth connection from one address stayed open"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "not closed at once"
    );
    assert_eq!(get_from("127.0.0.1", app.addr, "/healthz").await, None);

    let answer = get_from("127.0.0.2", app.addr, "/healthz").await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // A place given back is usable again.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let answer = get_from("127.0.0.1", app.addr, "/healthz").await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_its_time_limit_is_stopped_with_503() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.check_step_timeout_secs = 1;
        s.check_total_timeout_secs = 1;
        s.http_request_timeout_secs = 2;
    })
    .await;
    // Complete headers, then a body that never comes in full.
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"POST /api/check HTTP/1.1\r\nHost: x\r\nCookie: mailkeys-csrf=t\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        .await
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < Duration::from_secs(5) {
        let _ = stream.write_all(b" ").await;
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf)).await
        {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1800) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
}

/// The real binary under a 256-descriptor limit: 300 idle connections from one address
/// neither exhaust its descriptors nor keep /healthz from answering at once; then 300
/// from ten addresses (under the per-address cap) fill only the descriptor-bound total,
/// and once the header timeout has closed them the service answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_256_descriptors_300_idle_connections_leave_healthz_answering() {
    let dir = tempfile::tempdir().unwrap();
    let port = reserve_port().release();
    let mut child = std::process::Command::new("prlimit")
        .arg("--nofile=256")
        .arg(mailkeys_binary())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("mk.db").display()),
        )
        .env("MAILKEYS_HTTP_HEADER_TIMEOUT_SECS", "3")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("prlimit (util-linux) runs the binary");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut up = false;
    for _ in 0..100 {
        if TcpStream::connect(addr).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the server started");

    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(connect_from("127.0.0.1", addr).await);
    }
    let started = Instant::now();
    let answer = get_from("127.0.0.2", addr, "/healthz").await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    drop(idle);

    let mut spread = Vec::new();
    for n in 0..300 {
        spread.push(connect_from(&format!("127.0.0.{}", 10 + n % 10), addr).await);
    }
    // Over the descriptor-bound total, connections are closed at once: the service never
    // runs out of descriptors, and answers again as soon as the idle ones time out.
    let started = Instant::now();
    let mut answered = None;
    while started.elapsed() < Duration::from_secs(8) {
        if let Some(answer) = get_from("127.0.0.3", addr, "/healthz").await {
            answered = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let answer = answered.expect("/healthz answers after the header timeout");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(spread);

    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!log.contains("Too many open files"), "{log}");
    assert!(log.contains("max_connections lowered"), "{log}");
}
