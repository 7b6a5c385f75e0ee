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

pub fn reserve_port() -> ReservedPort {
    ReservedPort(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
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
