//! The parser and the client against scripted servers.

use super::*;

fn status(line: &str) -> StatusLine {
    match parse_line(line) {
        Ok(Line::Untagged(Untagged::Status(s))) | Ok(Line::Tagged { status: s, .. }) => s,
        other => panic!("not a status line: {other:?}"),
    }
}

#[test]
fn a_greeting_with_a_capability_code_gives_its_capabilities() {
    let s = status("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Dovecot ready.");
    assert_eq!(s.status, Status::Ok);
    assert_eq!(
        s.capabilities(),
        Some(vec![
            "IMAP4rev1".to_owned(),
            "STARTTLS".to_owned(),
            "LOGINDISABLED".to_owned()
        ])
    );
    assert_eq!(s.text, "Dovecot ready.");
}

#[test]
fn a_bye_with_unavailable_keeps_its_code_and_text() {
    let s = status("* BYE [UNAVAILABLE] Server shutting down");
    assert_eq!(s.status, Status::Bye);
    assert_eq!(s.code_word().as_deref(), Some("UNAVAILABLE"));
    assert_eq!(s.text, "Server shutting down");
}

#[test]
fn a_tagged_no_keeps_its_tag_and_code() {
    match parse_line("mk2 NO [AUTHENTICATIONFAILED] Authentication failed.") {
        Ok(Line::Tagged { tag, status }) => {
            assert_eq!(tag, "mk2");
            assert_eq!(status.status, Status::No);
            assert_eq!(status.code.as_deref(), Some("AUTHENTICATIONFAILED"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn status_words_are_case_insensitive() {
    assert_eq!(status("* ok hi").status, Status::Ok);
    assert_eq!(status("a1 bad what").status, Status::Bad);
}

#[test]
fn exists_and_capability_lines_are_recognised() {
    assert_eq!(
        parse_line("* 3 EXISTS"),
        Ok(Line::Untagged(Untagged::Exists(3)))
    );
    assert_eq!(
        parse_line("* CAPABILITY IMAP4rev1 AUTH=PLAIN"),
        Ok(Line::Untagged(Untagged::Capability(vec![
            "IMAP4rev1".into(),
            "AUTH=PLAIN".into()
        ])))
    );
    assert_eq!(
        parse_line("* 0 RECENT"),
        Ok(Line::Untagged(Untagged::Other("0 RECENT".into())))
    );
}

#[test]
fn a_continuation_and_garbage_are_told_apart() {
    assert_eq!(
        parse_line("+ go ahead"),
        Ok(Line::Continuation("go ahead".into()))
    );
    assert!(parse_line("SSH-2.0-OpenSSH_9.2").is_err());
    assert!(parse_line("HTTP/1.1 400 Bad Request").is_err());
}

#[test]
fn a_literal_length_is_read_from_the_end_of_a_line() {
    assert_eq!(literal_length(b"* 1 FETCH (BODY[] {12}"), Some(12));
    assert_eq!(literal_length(b"a LOGIN {5+}"), Some(5));
    assert_eq!(literal_length(b"* OK {x}"), None);
    assert_eq!(literal_length(b"* OK done"), None);
}

#[test]
fn plain_passwords_are_quoted_with_escapes() {
    match encode_string(br#"pa"ss\word"#) {
        Ok(Encoded::Quoted(q)) => assert_eq!(&q[..], br#""pa\"ss\\word""#),
        _ => panic!("expected a quoted string"),
    }
}

#[test]
fn eight_bit_and_line_breaks_go_as_literals_and_nul_not_at_all() {
    assert!(matches!(
        encode_string("pässword".as_bytes()),
        Ok(Encoded::Literal(_))
    ));
    assert!(matches!(encode_string(b"a\r\nb"), Ok(Encoded::Literal(_))));
    assert!(matches!(encode_string(b"a\0b"), Err(WireError::Unsendable)));
}

async fn scripted(
    server_says: &'static [u8],
) -> (Wire<tokio::io::DuplexStream>, tokio::io::DuplexStream) {
    let (client, mut server) = tokio::io::duplex(64 * 1024);
    server.write_all(server_says).await.expect("script fits");
    (Wire::new(client), server)
}

/// Everything the client sent, once it has gone.
async fn sent_by(
    wire: Wire<tokio::io::DuplexStream>,
    mut server: tokio::io::DuplexStream,
) -> Vec<u8> {
    drop(wire);
    let mut sent = Vec::new();
    server.read_to_end(&mut sent).await.expect("reads");
    sent
}

#[tokio::test]
async fn a_login_with_a_literal_waits_for_the_go_ahead() {
    let (mut wire, server) = scripted(b"+ go\r\nmk1 OK [CAPABILITY IMAP4rev1] in\r\n").await;
    let response = wire
        .login(b"ann", "sécret".as_bytes())
        .await
        .expect("logs in");
    assert_eq!(response.done.status, Status::Ok);
    assert_eq!(response.capabilities(), Some(vec!["IMAP4rev1".to_owned()]));
    let sent = sent_by(wire, server).await;
    let mut expected = b"mk1 LOGIN \"ann\" {7}\r\n".to_vec();
    expected.extend_from_slice("sécret".as_bytes());
    expected.extend_from_slice(b"\r\n");
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn a_no_before_the_literal_stops_the_password_from_being_sent() {
    let (mut wire, server) = scripted(b"mk1 NO [UNAVAILABLE] later\r\n").await;
    let response = wire.login(b"ann", "sécret".as_bytes()).await;
    assert_eq!(response.expect("answers").done.status, Status::No);
    assert_eq!(sent_by(wire, server).await, b"mk1 LOGIN \"ann\" {7}\r\n");
}

#[tokio::test]
async fn authenticate_plain_with_sasl_ir_sends_one_line() {
    let (mut wire, server) = scripted(b"mk1 OK done\r\n").await;
    let response = wire.authenticate_plain(b"ann", b"pw", true).await;
    assert_eq!(response.expect("answers").done.status, Status::Ok);
    // base64("\0ann\0pw")
    let expected = b"mk1 AUTHENTICATE PLAIN AGFubgBwdw==\r\n";
    assert_eq!(sent_by(wire, server).await, expected);
}

#[tokio::test]
async fn a_bye_then_close_is_reported_as_bye() {
    let (mut wire, server) = scripted(b"* BYE [UNAVAILABLE] going down\r\n").await;
    drop(server);
    match wire.command("CAPABILITY").await {
        Err(WireError::Bye(s)) => assert_eq!(s.code_word().as_deref(), Some("UNAVAILABLE")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_response_collects_untagged_data_until_its_tag() {
    let (mut wire, _server) = scripted(
        b"* FLAGS (\\Seen)\r\n* 3 EXISTS\r\n* OK [UIDVALIDITY 1] x\r\nmk1 OK [READ-WRITE] done\r\n",
    )
    .await;
    let response = wire.command("SELECT INBOX").await.expect("selects");
    assert_eq!(response.exists(), Some(3));
    assert_eq!(response.done.code.as_deref(), Some("READ-WRITE"));
}

#[tokio::test]
async fn an_endless_line_is_cut_off() {
    let (client, mut server) = tokio::io::duplex(64 * 1024);
    let mut wire = Wire::new(client);
    let writer = tokio::spawn(async move {
        let junk = vec![b'x'; MAX_LINE + 10];
        let _ = server.write_all(&junk).await;
        server
    });
    assert!(matches!(
        wire.read_line().await,
        Err(WireError::Protocol(_))
    ));
    drop(writer);
}

#[tokio::test]
async fn a_literal_in_a_response_is_inlined() {
    let (mut wire, _server) = scripted(b"* OK {5}\r\nhello there\r\n").await;
    assert_eq!(wire.read_line().await.expect("reads"), "* OK hello there");
}
