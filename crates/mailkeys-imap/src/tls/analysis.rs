//! What a certificate says, and why it fails verification, in terms a person can act on.

use super::*;

/// Reads the parts of a certificate a person recognises. `None` if it does not parse.
pub(crate) fn certificate_info(der: &CertificateDer<'_>) -> Option<CertificateInfo> {
    let cert = x509_cert::Certificate::from_der(der.as_ref()).ok()?;
    let tbs = &cert.tbs_certificate;
    let mut names = Vec::new();
    if let Ok(Some((_, san))) = tbs.get::<SubjectAltName>() {
        for name in san.0 {
            match name {
                GeneralName::DnsName(dns) => names.push(dns.to_string()),
                GeneralName::IpAddress(octets) => {
                    let bytes = octets.as_bytes();
                    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
                        names.push(std::net::Ipv4Addr::from(v4).to_string());
                    } else if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
                        names.push(std::net::Ipv6Addr::from(v6).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let secs = |t: x509_cert::time::Time| {
        i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
    };
    Some(CertificateInfo {
        subject: tbs.subject.to_string(),
        issuer: tbs.issuer.to_string(),
        names,
        not_before: secs(tbs.validity.not_before),
        not_after: secs(tbs.validity.not_after),
        self_signed: tbs.subject == tbs.issuer,
    })
}

pub(super) fn cert_error(err: &rustls::Error) -> Option<&CertificateError> {
    match err {
        rustls::Error::InvalidCertificate(e) => Some(e),
        _ => None,
    }
}

pub(super) fn is_name_error(err: &rustls::Error) -> bool {
    matches!(
        cert_error(err),
        Some(CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. })
    )
}

pub(super) fn is_time_error(err: &rustls::Error) -> bool {
    matches!(
        cert_error(err),
        Some(
            CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. }
        )
    )
}

pub(super) fn trust_reason(err: &rustls::Error) -> String {
    match cert_error(err) {
        Some(CertificateError::UnknownIssuer) => {
            "it was issued by an authority Mailkeys does not trust".into()
        }
        Some(CertificateError::BadSignature) => "its signature does not check out".into(),
        Some(CertificateError::Revoked) => "it has been revoked".into(),
        Some(CertificateError::BadEncoding) => "it cannot be read".into(),
        _ => err.to_string(),
    }
}

/// Verifies `chain` for `name` at `now` and, when that fails, finds out why in terms a
/// person can act on. Verification runs twice when needed: once now, and once at a moment
/// inside the certificate's validity, so trust and name problems are told apart from
/// date problems (webpki reports only the first problem it meets).
pub(crate) fn analyse(
    roots: &Arc<RootCertStore>,
    provider: &Arc<CryptoProvider>,
    chain: &[CertificateDer<'static>],
    name: &ServerName<'_>,
    now: UnixTime,
) -> (Option<CertificateInfo>, Vec<CertProblem>) {
    let Some((leaf, intermediates)) = chain.split_first() else {
        return (
            None,
            vec![CertProblem::Untrusted {
                reason: "the server sent no certificate".into(),
            }],
        );
    };
    let info = certificate_info(leaf);
    let self_signed = info.as_ref().is_some_and(|i| i.self_signed);
    let host = name.to_str().into_owned();
    let names = info.as_ref().map(|i| i.names.clone()).unwrap_or_default();

    let verifier = match WebPkiServerVerifier::builder_with_provider(
        roots.clone(),
        provider.clone(),
    )
    .build()
    {
        Ok(v) => v,
        Err(_) => {
            let problem = if self_signed {
                CertProblem::SelfSigned
            } else {
                CertProblem::Untrusted {
                    reason: "Mailkeys has no trusted authorities to check it against".into(),
                }
            };
            return (info, vec![problem]);
        }
    };
    let verify = |at: UnixTime| verifier.verify_server_cert(leaf, intermediates, name, &[], at);

    let error_now = match verify(now) {
        Ok(_) => return (info, Vec::new()),
        Err(e) => e,
    };

    let mut problems = Vec::new();
    let inside_validity = info.as_ref().map(|i| {
        let middle = i.not_before / 2 + i.not_after / 2;
        UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(middle).unwrap_or(0)))
    });
    let error_inside = match inside_validity {
        Some(at) => verify(at).err(),
        None => Some(error_now.clone()),
    };
    match &error_inside {
        None => {}
        Some(e) if is_name_error(e) => problems.push(CertProblem::WrongHost {
            host: host.clone(),
            names: names.clone(),
        }),
        Some(e) if is_time_error(e) => {}
        Some(_) if self_signed => problems.push(CertProblem::SelfSigned),
        Some(e) => problems.push(CertProblem::Untrusted {
            reason: trust_reason(e),
        }),
    }
    if let Some(i) = &info {
        let now_secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        if now_secs > i.not_after {
            problems.push(CertProblem::Expired {
                not_after: Some(i.not_after),
            });
        } else if now_secs < i.not_before {
            problems.push(CertProblem::NotYetValid {
                not_before: Some(i.not_before),
            });
        }
    }
    if problems.is_empty() {
        // The leaf looked fine on its own: the problem is elsewhere in the chain.
        problems.push(match cert_error(&error_now) {
            Some(CertificateError::Expired | CertificateError::ExpiredContext { .. }) => {
                CertProblem::Expired { not_after: None }
            }
            Some(CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. }) => {
                CertProblem::NotYetValid { not_before: None }
            }
            _ if is_name_error(&error_now) => CertProblem::WrongHost { host, names },
            _ => CertProblem::Untrusted {
                reason: trust_reason(&error_now),
            },
        });
    }
    (info, problems)
}
