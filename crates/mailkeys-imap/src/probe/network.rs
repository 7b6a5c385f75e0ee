//! The network steps: DNS, TCP, the TLS handshake (and what its failures mean), and the
//! TLS probe of a port that answered in plaintext.

use super::*;

pub(super) async fn resolve(host: &str, port: u16) -> StepResult<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok((
            vec![SocketAddr::new(ip, port)],
            format!("{host} is an IP address; nothing to look up."),
        ));
    }
    match tokio::net::lookup_host((host, port)).await {
        Ok(found) => {
            let mut addresses: Vec<SocketAddr> = Vec::new();
            for a in found {
                if !addresses.contains(&a) {
                    addresses.push(a);
                }
            }
            if addresses.is_empty() {
                return Err(StepError::new(
                    StepFailure::HostNotFound,
                    format!("{host} has no address."),
                ));
            }
            let list: Vec<String> = addresses.iter().map(|a| a.ip().to_string()).collect();
            Ok((addresses, format!("{host} is at {}.", list.join(", "))))
        }
        Err(e) => {
            let detail = e.to_string();
            let lower = detail.to_ascii_lowercase();
            if lower.contains("temporary failure") || lower.contains("try again") {
                Err(StepError::new(
                    StepFailure::DnsTemporary {
                        detail: detail.clone(),
                    },
                    format!("The address lookup for {host} failed for now: {detail}."),
                ))
            } else {
                Err(StepError::new(
                    StepFailure::HostNotFound,
                    format!("{host} was not found: {detail}."),
                ))
            }
        }
    }
}

pub(super) async fn connect(
    addresses: &[SocketAddr],
    step_limit: Duration,
) -> StepResult<(TcpStream, SocketAddr)> {
    let tried: Vec<SocketAddr> = addresses
        .iter()
        .copied()
        .take(MAX_ADDRESSES_TRIED)
        .collect();
    let count = u32::try_from(tried.len()).unwrap_or(1).max(1);
    let per_address = step_limit / count;
    let mut refused = Vec::new();
    let mut other = Vec::new();
    for addr in &tried {
        match tokio::time::timeout(per_address, TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => {
                let _ = tcp.set_nodelay(true);
                return Ok(((tcp, *addr), format!("Connected to {addr}.")));
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => refused.push(*addr),
            Ok(Err(e)) => other.push(format!("{addr}: {e}")),
            Err(_) => other.push(format!("{addr}: no answer")),
        }
    }
    if other.is_empty() {
        let list: Vec<String> = refused.iter().map(ToString::to_string).collect();
        Err(StepError::new(
            StepFailure::ConnectionRefused,
            format!("Connection refused by {}.", list.join(", ")),
        ))
    } else {
        let detail = other.join("; ");
        Err(StepError::new(
            StepFailure::Unreachable {
                detail: detail.clone(),
            },
            format!("Could not connect: {detail}."),
        ))
    }
}

pub(super) async fn handshake(
    server: &MailServer,
    tcp: TcpStream,
    info: &mut Option<TlsInfo>,
    redact: Redactor<'_>,
) -> StepResult<Box<TlsStream<Sniff<TcpStream>>>> {
    let setup = TlsSetup::new(server.bare_host(), server.ca_file.as_deref()).map_err(|detail| {
        StepError::new(
            StepFailure::Configuration {
                detail: detail.clone(),
            },
            format!("TLS cannot be set up: {detail}."),
        )
    })?;
    let done = match setup.handshake(tcp).await {
        Ok(done) => done,
        Err(HandshakeFailed {
            detail,
            first_bytes,
        }) => return Err(handshake_failure(&detail, &first_bytes, redact)),
    };
    let (certificate, problems) = setup.analyse(&done.chain);
    let valid = problems.is_empty();
    let summary = match (&certificate, valid) {
        (Some(c), true) => format!(
            "{} with {}; certificate for {} issued by {}, valid until {}.",
            done.protocol,
            done.cipher_suite,
            c.names
                .first()
                .cloned()
                .unwrap_or_else(|| c.subject.clone()),
            c.issuer,
            crate::verdict::format_time(c.not_after),
        ),
        (_, true) => format!(
            "{} with {}; certificate valid.",
            done.protocol, done.cipher_suite
        ),
        (_, false) => {
            let list: Vec<String> = problems.iter().map(describe_problem).collect();
            format!(
                "{} set up, but the certificate failed the check: {}.",
                done.protocol,
                list.join("; ")
            )
        }
    };
    *info = Some(TlsInfo {
        protocol: done.protocol,
        cipher_suite: done.cipher_suite,
        certificate,
        chain_length: done.chain.len(),
        valid_for_host: valid,
        problems: problems.clone(),
    });
    if valid {
        Ok((done.stream, summary))
    } else {
        // The stream is dropped here: nothing more is said over this connection.
        Err(StepError::new(
            StepFailure::Certificate { problems },
            summary,
        ))
    }
}

pub(super) fn describe_problem(problem: &crate::report::CertProblem) -> String {
    use crate::report::CertProblem;
    use crate::verdict::format_time;
    match problem {
        CertProblem::SelfSigned => "it is self-signed".into(),
        CertProblem::Untrusted { reason } => reason.clone(),
        CertProblem::Expired { not_after: Some(t) } => format!("it expired on {}", format_time(*t)),
        CertProblem::Expired { not_after: None } => "a certificate in its chain expired".into(),
        CertProblem::NotYetValid {
            not_before: Some(t),
        } => {
            format!("it only becomes valid on {}", format_time(*t))
        }
        CertProblem::NotYetValid { not_before: None } => "it is not valid yet".into(),
        CertProblem::WrongHost { host, names } => {
            if names.is_empty() {
                format!("it is not made out for {host}")
            } else {
                format!("it is made out for {}, not {host}", names.join(", "))
            }
        }
    }
}

pub(super) fn handshake_failure(
    detail: &str,
    first_bytes: &[u8],
    redact: Redactor<'_>,
) -> StepError {
    // What the peer sent first, as a person may read it (at most 48 bytes, redacted).
    let shown = redact.bytes(first_bytes);
    if first_bytes.starts_with(b"* ") {
        return StepError::new(
            StepFailure::TlsHandshake {
                peer_spoke_imap: true,
                detail: detail.to_owned(),
            },
            format!("The server answered in plain IMAP (\u{201c}{shown}\u{201d}) instead of TLS."),
        );
    }
    let printable = !first_bytes.is_empty()
        && first_bytes
            .iter()
            .all(|b| (0x20..0x7f).contains(b) || matches!(b, b'\r' | b'\n' | b'\t'));
    if printable {
        return StepError::new(
            StepFailure::NotImap {
                looks_like_tls: false,
                sample: shown.clone(),
            },
            format!("The server answered in plain text, not TLS: \u{201c}{shown}\u{201d}"),
        );
    }
    StepError::new(
        StepFailure::TlsHandshake {
            peer_spoke_imap: false,
            detail: detail.to_owned(),
        },
        format!("The TLS handshake failed: {detail}."),
    )
}

/// A fresh connection to the same address, and only a TLS handshake on it.
pub(super) async fn probe_tls(server: &MailServer, addr: SocketAddr) -> StepResult<()> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| {
        StepError::new(
            StepFailure::Io {
                detail: e.to_string(),
            },
            format!("Could not connect again: {e}."),
        )
    })?;
    let setup = TlsSetup::new(server.bare_host(), server.ca_file.as_deref()).map_err(|detail| {
        StepError::new(
            StepFailure::Configuration {
                detail: detail.clone(),
            },
            detail,
        )
    })?;
    match setup.handshake(tcp).await {
        Ok(done) => Ok((
            (),
            format!(
                "The port completed a {} handshake: it expects encryption from the first byte.",
                done.protocol
            ),
        )),
        Err(failed) => Err(StepError::new(
            StepFailure::TlsHandshake {
                peer_spoke_imap: false,
                detail: failed.detail.clone(),
            },
            format!("The port does not speak TLS either ({}).", failed.detail),
        )),
    }
}
