//! The probe against fake servers that answer in the words of real ones: SASL LOGIN as the
//! only password mechanism, refusals whose words name a cause other than the password, a
//! mailbox that cannot be reached after signing in, a certificate not valid yet, a greeting
//! cut off and a handshake closed by the server; and what each check proved.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failed assumption is a failed test

use base64::Engine as _;
use secrecy::SecretString;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use mailkeys_imap::*;
use mailkeys_test_support::certs::TestCa;
use mailkeys_test_support::fake_imap::{self as fake, Script};

const PASSWORD: &str = "k3mfpa-x7bq2n-c9dhe4-rw5tju-8pazvy";

fn local(port: u16, tls: TlsMode, ca_file: Option<std::path::PathBuf>) -> MailServer {
    MailServer {
        name: "Test".into(),
        host: "127.0.0.1".into(),
        port,
        tls,
        ca_file,
    }
}

async fn check(server: &MailServer) -> CheckReport {
    let (tx, _rx) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
    let secret = SecretString::from(PASSWORD.to_owned());
    run_check(server, "ann@example.test", &secret, &Limits::default(), tx).await
}

async fn check_plaintext(script: Script) -> (fake::Fake, CheckReport) {
    let fake = fake::serve(script, None).await;
    let report = check(&local(fake.port(), TlsMode::None, None)).await;
    (fake, report)
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn a_server_offering_only_sasl_login_is_signed_in_to_with_it() {
    let (fake, report) = check_plaintext(Script {
        greeting: Some("* OK IMAP ready.".into()),
        capabilities: "IMAP4rev1 AUTH=LOGIN LOGINDISABLED".into(),
        exists: 2,
        ..Script::default()
    })
    .await;
    assert_eq!(report.verdict, Verdict::Success { messages: 2 });
    assert_eq!(report.proven, Proven::PasswordAccepted);
    let received = fake.received();
    let at = received
        .iter()
        .position(|l| l.ends_with("AUTHENTICATE LOGIN"))
        .unwrap_or_else(|| panic!("no AUTHENTICATE LOGIN in {received:?}"));
    assert_eq!(received[at + 1], b64("ann@example.test"));
    assert_eq!(received[at + 2], b64(PASSWORD));
    assert!(!received.iter().any(|l| l.contains(" LOGIN ann")));
}

#[tokio::test]
async fn a_refusal_after_sasl_login_is_read_like_any_other() {
    let (_fake, report) = check_plaintext(Script {
        greeting: Some("* OK IMAP ready.".into()),
        capabilities: "IMAP4rev1 AUTH=LOGIN LOGINDISABLED".into(),
        login_reply: "NO [AUTHENTICATIONFAILED] Authentication failed.".into(),
        ..Script::default()
    })
    .await;
    assert_eq!(report.verdict, Verdict::WrongPassword);
    assert_eq!(report.proven, Proven::PasswordRefused);
}

#[tokio::test]
async fn a_server_echoing_the_sasl_login_password_has_it_hidden_from_the_report() {
    let echoed = b64(PASSWORD);
    let (_fake, report) = check_plaintext(Script {
        greeting: Some("* OK IMAP ready.".into()),
        capabilities: "IMAP4rev1 AUTH=LOGIN LOGINDISABLED".into(),
        login_reply: format!("NO [AUTHENTICATIONFAILED] Bad password {echoed}"),
        ..Script::default()
    })
    .await;
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains(&echoed), "{json}");
    assert!(json.contains("[password hidden]"), "{json}");
}

#[tokio::test]
async fn only_oauth_still_means_no_password_mechanism_and_the_password_is_never_sent() {
    let (fake, report) = check_plaintext(Script {
        greeting: Some("* OK IMAP ready.".into()),
        capabilities: "IMAP4rev1 AUTH=XOAUTH2 LOGINDISABLED".into(),
        ..Script::default()
    })
    .await;
    assert!(matches!(
        report.verdict,
        Verdict::NoPasswordMechanism { .. }
    ));
    assert_eq!(report.proven, Proven::PasswordNeverSent);
    assert!(!fake.received().iter().any(|l| l.contains("AUTHENTICATE")));
}

#[tokio::test]
async fn gmail_asking_for_a_web_sign_in_is_not_called_a_wrong_password() {
    let (_fake, report) = check_plaintext(Script {
        login_reply: "NO [ALERT] Please log in via your web browser: \
                      https://support.google.com/mail/accounts/answer/78754 (Failure)"
            .into(),
        ..Script::default()
    })
    .await;
    assert_eq!(
        report.verdict,
        Verdict::Server(ServerReason::WebSignInRequired)
    );
    assert_eq!(report.proven, Proven::RefusedForAnotherReason);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["verdict"]["kind"], "web_sign_in_required");
    assert_eq!(json["proven"]["kind"], "refused_for_another_reason");
    assert!(!report.verdict.advice().contains("Caps Lock"));
}

#[tokio::test]
async fn an_alert_before_a_generic_refusal_gives_the_reason() {
    let (_fake, report) = check_plaintext(Script {
        login_untagged: Some("* NO [ALERT] Account is temporarily locked".into()),
        login_reply: "NO [AUTHENTICATIONFAILED] Authentication failed.".into(),
        ..Script::default()
    })
    .await;
    assert_eq!(report.verdict, Verdict::Server(ServerReason::AccountLocked));
    assert_eq!(report.proven, Proven::RefusedBeforePassword);
    let login = report.steps.iter().find(|s| s.step == Step::Login).unwrap();
    assert!(
        login.summary.contains("temporarily locked"),
        "{}",
        login.summary
    );
}

#[tokio::test]
async fn too_many_connections_said_with_bye_at_sign_in_says_to_close_other_clients() {
    let (_fake, report) = check_plaintext(Script::login_reply(
        "BYE [UNAVAILABLE] Maximum number of connections from user+IP exceeded \
         (mail_max_userip_connections=10)",
    ))
    .await;
    assert_eq!(
        report.verdict,
        Verdict::Server(ServerReason::TooManyConnections)
    );
    assert_eq!(report.proven, Proven::RefusedBeforePassword);
    assert!(report.verdict.advice().contains("Close mail apps"));
}

#[tokio::test]
async fn microsoft_authenticated_but_not_connected_means_the_password_was_accepted() {
    let (_fake, report) = check_plaintext(Script {
        select_reply: Some("BAD User is authenticated but not connected.".into()),
        ..Script::default()
    })
    .await;
    assert_eq!(
        report.verdict,
        Verdict::Server(ServerReason::AuthenticatedNotConnected)
    );
    assert_eq!(report.proven, Proven::PasswordAccepted);
    assert!(report.verdict.advice().contains("Wait a few minutes"));
}

#[tokio::test]
async fn gmail_bandwidth_limit_on_opening_the_inbox_is_named() {
    let (_fake, report) = check_plaintext(Script {
        select_reply: Some("NO [OVERQUOTA] Account exceeded command or bandwidth limits.".into()),
        ..Script::default()
    })
    .await;
    assert_eq!(
        report.verdict,
        Verdict::Server(ServerReason::BandwidthLimit)
    );
    assert_eq!(report.proven, Proven::PasswordAccepted);
}

#[tokio::test]
async fn a_certificate_not_valid_yet_points_at_the_clocks() {
    let ca = TestCa::new();
    let fake = fake::serve(
        Script::default(),
        Some(ca.server(&["127.0.0.1"], 2090, 2099)),
    )
    .await;
    let report = check(&local(
        fake.port(),
        TlsMode::Implicit,
        Some(ca.pem_file.clone()),
    ))
    .await;
    assert!(
        matches!(report.verdict, Verdict::CertificateNotYetValid { .. }),
        "{:?}",
        report.verdict
    );
    assert!(report.verdict.advice().contains("clock"));
    assert!(report.verdict.title().contains("2090"));
    assert_eq!(report.proven, Proven::PasswordNeverSent);
    assert!(!fake.received().iter().any(|l| l.contains("LOGIN")));
}

/// A listener that runs `serve` on its first connection.
async fn raw_server<F, Fut>(serve: F) -> u16
where
    F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        if let Ok((socket, _)) = listener.accept().await {
            serve(socket).await;
        }
    });
    port
}

#[tokio::test]
async fn a_greeting_cut_off_is_named_as_such() {
    let port = raw_server(|mut socket| async move {
        let _ = socket.write_all(b"* OK Dovecot re").await;
        let _ = socket.flush().await;
    })
    .await;
    let report = check(&local(port, TlsMode::None, None)).await;
    assert_eq!(report.verdict, Verdict::GreetingCutOff);
    assert_eq!(report.proven, Proven::PasswordNeverSent);
}

#[tokio::test]
async fn a_tls_handshake_closed_by_the_server_is_named_as_such() {
    let port = raw_server(|mut socket| async move {
        let mut hello = [0u8; 64];
        let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut hello).await;
        let _ = socket.shutdown().await;
    })
    .await;
    let report = check(&local(port, TlsMode::Implicit, None)).await;
    assert_eq!(
        report.verdict,
        Verdict::TlsClosedByServer,
        "{:?}",
        report.steps
    );
    assert_eq!(report.proven, Proven::PasswordNeverSent);
}
