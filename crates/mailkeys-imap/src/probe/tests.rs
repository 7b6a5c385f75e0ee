//! The redaction and the step helpers, without a network.

use super::redaction::SHOWN_TEXT_MAX;
use super::*;

fn hidden(username: &str, password: &str, server_text: &str) -> String {
    let secret = SecretString::from(password.to_owned());
    let needles = Needles::new(username, &secret);
    Redactor { needles: &needles }.text(server_text)
}

#[test]
fn the_password_is_hidden_in_server_text_as_typed_quoted_or_base64() {
    assert_eq!(
        hidden("ann", "s3cret", "BAD s3cret"),
        "BAD [password hidden]"
    );
    assert_eq!(
        hidden("ann", r#"a"b\c"#, r#"BAD LOGIN "ann" "a\"b\\c""#),
        r#"BAD LOGIN "ann" "[password hidden]""#
    );
    // base64("\0ann\0pw")
    assert_eq!(
        hidden("ann", "pw", "BAD AGFubgBwdw== is wrong"),
        "BAD [password hidden] is wrong"
    );
}

#[test]
fn server_text_has_control_characters_escaped_and_is_cut_short() {
    assert_eq!(hidden("ann", "pw", "a\u{1b}[31mb"), r"a\u{1b}[31mb");
    let long = "x".repeat(1000);
    assert_eq!(
        hidden("ann", "pw", &long).chars().count(),
        SHOWN_TEXT_MAX + 1
    );
}

#[test]
fn binary_bytes_are_shown_as_hex_escapes() {
    let secret = SecretString::from("pw".to_owned());
    let needles = Needles::new("ann", &secret);
    let shown = Redactor { needles: &needles }.bytes(&[0x15, 0x03, 0x01, b'A']);
    assert_eq!(shown, r"\x15\x03\x01A");
}

#[test]
fn auth_mechanisms_are_read_from_capabilities_in_upper_case() {
    let caps = vec![
        "IMAP4rev1".to_owned(),
        "auth=plain".to_owned(),
        "AUTH=XOAUTH2".to_owned(),
    ];
    assert_eq!(mechanisms(&caps), vec!["PLAIN", "XOAUTH2"]);
    assert!(has(&caps, "imap4REV1"));
}
