//! What a mail client needs to reach this installation's servers, and the DNS SRV records
//! that announce them (RFC 6186 for IMAP and submission, RFC 8314 for implicit TLS), as the
//! show-once page, the setup files and the admin's DNS page say it.

use serde::Deserialize;

/// `smtp_security`: how mail clients secure the submission port: TLS from the first byte
/// (RFC 8314, usually port 465) or STARTTLS (usually port 587).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    #[default]
    Implicit,
    Starttls,
}

/// One server a mail client talks to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: u16,
    /// TLS from the first byte; otherwise STARTTLS on the plain port.
    pub implicit_tls: bool,
}

impl Server {
    /// The security as mail apps label it.
    pub fn security(&self) -> &'static str {
        if self.implicit_tls {
            "SSL/TLS"
        } else {
            "STARTTLS"
        }
    }

    /// Thunderbird's autoconfig `socketType`.
    pub fn socket_type(&self) -> &'static str {
        if self.implicit_tls {
            "SSL"
        } else {
            "STARTTLS"
        }
    }
}

/// Incoming (IMAP) and outgoing (submission) servers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailServers {
    pub imap: Server,
    pub smtp: Server,
}

/// Time to live of the suggested records, in seconds.
const SRV_TTL: u32 = 3600;

impl MailServers {
    /// IMAP on 993 speaks TLS from the first byte, any other port STARTTLS (as the
    /// connection test assumes); submission as `smtp_security` says.
    pub fn new(imap: (&str, u16), smtp: (&str, u16), smtp_security: SmtpSecurity) -> Self {
        Self {
            imap: Server {
                host: imap.0.to_owned(),
                port: imap.1,
                implicit_tls: imap.1 == 993,
            },
            smtp: Server {
                host: smtp.0.to_owned(),
                port: smtp.1,
                implicit_tls: smtp_security == SmtpSecurity::Implicit,
            },
        }
    }

    /// The SRV records for the mail domain `domain`, as zone-file lines. The service a
    /// client should not use (plain IMAP when the server wants implicit TLS, and so on) is
    /// announced as not offered, with the target "." (RFC 6186 section 3.4 and RFC 8314
    /// section 5.1), so clients do not guess it.
    pub fn srv_records(&self, domain: &str) -> Vec<String> {
        let domain = domain.trim_end_matches('.');
        let line = |service: &str, offered: Option<&Server>| match offered {
            Some(server) => format!(
                "_{service}._tcp.{domain}. {SRV_TTL} IN SRV 0 1 {} {}.",
                server.port,
                server.host.trim_end_matches('.')
            ),
            None => format!("_{service}._tcp.{domain}. {SRV_TTL} IN SRV 0 0 0 ."),
        };
        let (imap, smtp) = (&self.imap, &self.smtp);
        vec![
            line("imaps", imap.implicit_tls.then_some(imap)),
            line("imap", (!imap.implicit_tls).then_some(imap)),
            line("submissions", smtp.implicit_tls.then_some(smtp)),
            line("submission", (!smtp.implicit_tls).then_some(smtp)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers(imap_tls: bool, smtp_tls: bool) -> MailServers {
        MailServers {
            imap: Server {
                host: "imap.example.org".into(),
                port: if imap_tls { 993 } else { 143 },
                implicit_tls: imap_tls,
            },
            smtp: Server {
                host: "smtp.example.org".into(),
                port: if smtp_tls { 465 } else { 587 },
                implicit_tls: smtp_tls,
            },
        }
    }

    #[test]
    fn implicit_tls_is_announced_and_the_plain_ports_are_not_offered() {
        assert_eq!(
            servers(true, true).srv_records("example.org."),
            [
                "_imaps._tcp.example.org. 3600 IN SRV 0 1 993 imap.example.org.",
                "_imap._tcp.example.org. 3600 IN SRV 0 0 0 .",
                "_submissions._tcp.example.org. 3600 IN SRV 0 1 465 smtp.example.org.",
                "_submission._tcp.example.org. 3600 IN SRV 0 0 0 .",
            ]
        );
    }

    #[test]
    fn starttls_servers_are_announced_on_the_plain_services() {
        let records = servers(false, false).srv_records("example.org");
        assert_eq!(records[0], "_imaps._tcp.example.org. 3600 IN SRV 0 0 0 .");
        assert_eq!(
            records[1],
            "_imap._tcp.example.org. 3600 IN SRV 0 1 143 imap.example.org."
        );
        assert_eq!(
            records[3],
            "_submission._tcp.example.org. 3600 IN SRV 0 1 587 smtp.example.org."
        );
    }
}
