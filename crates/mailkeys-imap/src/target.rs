//! Where a live check connects: the mail servers named in configuration.
//!
//! Targets come from the operator's configuration only, never from a request: a form or an
//! API call names a server by its `name`, and the host and port are looked up here. That
//! keeps the check from being turned into a port scanner for the network Mailkeys sits in.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How the connection is encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// TLS from the first byte, as on port 993.
    Implicit,
    /// A plaintext greeting, then `STARTTLS` before anything else, as on port 143.
    #[serde(alias = "start_tls", alias = "start-tls")]
    StartTls,
    /// No encryption at all. Only sensible for a server on the same machine.
    None,
}

impl TlsMode {
    /// The port IMAP customarily uses with this mode.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Implicit => 993,
            Self::StartTls | Self::None => 143,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Implicit => "TLS (implicit)",
            Self::StartTls => "STARTTLS",
            Self::None => "no encryption",
        }
    }
}

/// One IMAP server a user may test their credentials against.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MailServer {
    /// What the user sees and picks, e.g. "Company mail".
    pub name: String,
    /// A host name or an IP address, exactly as mail clients are told to use it: the
    /// certificate is checked against it.
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// A PEM file of certificate authorities to trust instead of the system store, for a
    /// server whose certificate comes from a private CA.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidMailServer {
    #[error("a mail server needs a name")]
    EmptyName,
    #[error("mail server {0:?}: the host is empty or contains spaces or control characters")]
    BadHost(String),
    #[error("mail server {0:?}: port 0 cannot be connected to")]
    ZeroPort(String),
}

impl MailServer {
    /// Checks what serde cannot: a usable name, host and port. Run once at start-up.
    pub fn validate(&self) -> Result<(), InvalidMailServer> {
        if self.name.trim().is_empty() {
            return Err(InvalidMailServer::EmptyName);
        }
        let host_ok = !self.host.is_empty()
            && self.host.len() <= 253
            && !self
                .host
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '/');
        if !host_ok {
            return Err(InvalidMailServer::BadHost(self.name.clone()));
        }
        if self.port == 0 {
            return Err(InvalidMailServer::ZeroPort(self.name.clone()));
        }
        Ok(())
    }

    /// The host without the brackets an IPv6 literal may be written with.
    pub(crate) fn bare_host(&self) -> &str {
        self.host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&self.host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(host: &str, port: u16) -> MailServer {
        MailServer {
            name: "Mail".into(),
            host: host.into(),
            port,
            tls: TlsMode::Implicit,
            ca_file: None,
        }
    }

    #[test]
    fn a_list_of_servers_reads_from_toml_like_json() {
        let json = r#"[
            {"name": "Company", "host": "imap.example.org", "port": 993, "tls": "implicit"},
            {"name": "Local", "host": "127.0.0.1", "port": 143, "tls": "starttls",
             "ca_file": "/etc/mailkeys/ca.pem"},
            {"name": "Dev", "host": "localhost", "port": 1143, "tls": "none"}
        ]"#;
        let servers: Vec<MailServer> = serde_json::from_str(json).expect("parses");
        assert_eq!(servers[0].tls, TlsMode::Implicit);
        assert_eq!(servers[1].tls, TlsMode::StartTls);
        assert_eq!(
            servers[1].ca_file.as_deref(),
            Some(std::path::Path::new("/etc/mailkeys/ca.pem"))
        );
        assert_eq!(servers[2].tls, TlsMode::None);
        assert!(servers.iter().all(|s| s.validate().is_ok()));
    }

    #[test]
    fn an_unknown_field_in_a_server_entry_is_refused() {
        let json = r#"{"name": "A", "host": "h", "port": 1, "tls": "none", "hots": "x"}"#;
        assert!(serde_json::from_str::<MailServer>(json).is_err());
    }

    #[test]
    fn a_host_with_spaces_or_nothing_in_it_is_invalid() {
        assert!(matches!(
            server("", 993).validate(),
            Err(InvalidMailServer::BadHost(_))
        ));
        assert!(matches!(
            server("imap example", 993).validate(),
            Err(InvalidMailServer::BadHost(_))
        ));
    }

    #[test]
    fn port_zero_is_invalid() {
        assert_eq!(
            server("imap.example.org", 0).validate(),
            Err(InvalidMailServer::ZeroPort("Mail".into()))
        );
    }

    #[test]
    fn an_ipv6_literal_loses_its_brackets() {
        assert_eq!(server("[::1]", 993).bare_host(), "::1");
        assert_eq!(server("::1", 993).bare_host(), "::1");
    }

    #[test]
    fn implicit_tls_defaults_to_port_993_and_the_others_to_143() {
        assert_eq!(TlsMode::Implicit.default_port(), 993);
        assert_eq!(TlsMode::StartTls.default_port(), 143);
        assert_eq!(TlsMode::None.default_port(), 143);
    }
}
