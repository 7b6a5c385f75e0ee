//! Loopback ports: one where nothing listens, one held until its listener binds.

/// A loopback port nothing listens on (bound, read and released).
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A configured mail server where nothing listens: the connection test's "refused" case.
pub fn nowhere() -> mailkeys::imap::MailServer {
    mailkeys::imap::MailServer {
        name: "Nowhere".into(),
        host: "127.0.0.1".into(),
        port: closed_port(),
        tls: mailkeys::imap::TlsMode::Implicit,
        ca_file: None,
    }
}

/// A loopback port held open until `release`, so that nothing else (a Dovecot started in
/// between, another test) takes it before the process meant to listen there binds it.
pub struct ReservedPort(std::net::TcpListener);

/// The port comes from below Linux's ephemeral range (32768-60999 by default): the kernel
/// never hands those to a `bind(:0)` or an outgoing connection, so in the moment between
/// `release` and the listener's bind no socket of a test running in parallel can take it
/// (one did, with a port from the ephemeral range: "Address already in use"). Reserved ports
/// of one process are handed out in turn; another process starts elsewhere in the range,
/// and a port in use is skipped.
pub fn reserve_port() -> ReservedPort {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(7919);
    for _ in 0..COUNT {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = FIRST + start.wrapping_add(n) % COUNT;
        let port = u16::try_from(port).expect("below 32768");
        if let Ok(listener) = std::net::TcpListener::bind(("127.0.0.1", port)) {
            return ReservedPort(listener);
        }
    }
    panic!("no free loopback port in {FIRST}-{}", FIRST + COUNT - 1)
}

impl ReservedPort {
    pub fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }

    /// Frees the port for its listener; call right before that binds.
    pub fn release(self) -> u16 {
        self.port()
    }
}
