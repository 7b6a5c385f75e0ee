//! Certificate analysis and TLS sniffing, without a network.

use super::analysis::certificate_info;
use super::*;

#[test]
fn a_tls_alert_or_handshake_record_looks_like_tls() {
    assert!(looks_like_tls(&[0x15, 0x03, 0x01, 0x00, 0x02]));
    assert!(looks_like_tls(&[0x16, 0x03, 0x03]));
    assert!(!looks_like_tls(b"* OK ready"));
    assert!(!looks_like_tls(b""));
}

#[test]
fn a_missing_ca_file_is_a_plain_configuration_error() {
    let err = TlsSetup::new("localhost", Some(Path::new("/nonexistent/ca.pem")))
        .err()
        .expect("fails");
    assert!(err.contains("cannot read ca_file"), "{err}");
}

#[test]
fn a_ca_file_without_certificates_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("empty.pem");
    std::fs::write(&path, "not a certificate\n").expect("writes");
    let err = TlsSetup::new("localhost", Some(&path))
        .err()
        .expect("fails");
    assert!(err.contains("no usable certificate"), "{err}");
}

#[test]
fn a_certificate_reads_as_subject_names_issuer_and_dates() {
    use mailkeys_test_support::certs::{self_signed, Validity};
    let cert = self_signed(
        &["imap.example.test", "192.0.2.7"],
        Validity::years(2024, 2030),
    );
    let info = certificate_info(&cert.der()).expect("parses");
    assert_eq!(info.subject, "CN=imap.example.test");
    assert_eq!(info.issuer, "CN=imap.example.test");
    assert!(info.self_signed);
    assert_eq!(info.names, vec!["imap.example.test", "192.0.2.7"]);
    assert_eq!(info.not_before, 1_704_067_200);
    assert_eq!(info.not_after, 1_893_456_000);
}
