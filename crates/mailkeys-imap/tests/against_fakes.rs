//! The probe against tiny fake IMAP servers on 127.0.0.1, one per situation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failed assumption is a failed test

use std::path::PathBuf;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use tokio::sync::mpsc;

use mailkeys_imap::*;
use mailkeys_test_support::certs::{self_signed_server, TestCa};
use mailkeys_test_support::fake_imap::{self as fake, Script};

const PASSWORD: &str = "k3mfpa-x7bq2n-c9dhe4-rw5tju-8pazvy";

fn server(host: &str, port: u16, tls: TlsMode, ca_file: Option<PathBuf>) -> MailServer {
    MailServer {
        name: "Test".into(),
        host: host.into(),
        port,
        tls,
        ca_file,
    }
}

fn local(port: u16, tls: TlsMode) -> MailServer {
    server("127.0.0.1", port, tls, None)
}

fn quick() -> Limits {
    Limits {
        step: Duration::from_millis(400),
        total: Duration::from_secs(3),
    }
}

/// Runs a check and also returns the events it sent.
async fn check_with(
    server: &MailServer,
    password: &str,
    limits: Limits,
) -> (CheckReport, Vec<StepEvent>) {
    let (tx, mut rx) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
    let secret = SecretString::from(password.to_owned());
    let report = run_check(server, "ann@example.test", &secret, &limits, tx).await;
    let mut events = Vec::new();
    while let Ok(event) = rx.try_recv() {
        events.push(event);
    }
    (report, events)
}

async fn check(server: &MailServer) -> CheckReport {
    check_with(server, PASSWORD, Limits::default()).await.0
}

/// A plaintext fake playing `script`, and a check of it without TLS.
async fn check_plaintext(script: Script) -> (fake::Fake, CheckReport) {
    let fake = fake::serve(script, None).await;
    let report = check(&local(fake.port(), TlsMode::None)).await;
    (fake, report)
}

/// A fake speaking implicit TLS with a certificate for `names` over the years `from` to
/// `until` (as `TestCa::server` takes them), issued by a new test CA.
async fn tls_fake(names: &[&str], from: i32, until: i32) -> (TestCa, fake::Fake) {
    let ca = TestCa::new();
    let config = ca.server(names, from, until);
    (ca, fake::serve(Script::default(), Some(config)).await)
}

/// A fake speaking implicit TLS with a self-signed certificate for 127.0.0.1.
async fn self_signed_fake() -> fake::Fake {
    let config = self_signed_server(&["127.0.0.1"]);
    fake::serve(Script::default(), Some(config)).await
}

/// A plaintext fake playing `script` and offering STARTTLS with a certificate from `ca` for
/// `host`, and the server entry that reaches it as `host`, trusting `ca`.
async fn starttls_fake(ca: &TestCa, host: &str, script: Script) -> (fake::Fake, MailServer) {
    let script = Script {
        starttls: Some(ca.server(&[host], 2024, 2099)),
        ..script
    };
    let fake = fake::serve(script, None).await;
    let target = trusting(ca, host, fake.port(), TlsMode::StartTls);
    (fake, target)
}

/// A check of the plaintext `fake` with `password`, and the events it sent.
async fn check_plaintext_with(fake: &fake::Fake, password: &str) -> (CheckReport, Vec<StepEvent>) {
    check_with(
        &local(fake.port(), TlsMode::None),
        password,
        Limits::default(),
    )
    .await
}

/// Fails unless the report's verdict matches the pattern.
macro_rules! assert_verdict_matches {
    ($report:expr, $($pattern:tt)+) => {
        assert!(matches!(&$report.verdict, $($pattern)+), "{:?}", $report.verdict)
    };
}

/// The server `host`:`port` whose certificate `ca` issued, with the CA as its `ca_file`.
fn trusting(ca: &TestCa, host: &str, port: u16, tls: TlsMode) -> MailServer {
    server(host, port, tls, Some(ca.pem_file.clone()))
}

/// The report's step `which`.
fn step(report: &CheckReport, which: Step) -> &StepReport {
    report
        .steps
        .iter()
        .find(|s| s.step == which)
        .unwrap_or_else(|| panic!("no {which:?} step in {:?}", report.steps))
}

/// The LOGIN command the fake received.
fn login_line(fake: &fake::Fake) -> String {
    fake.received()
        .into_iter()
        .find(|l| l.contains("LOGIN"))
        .expect("login sent")
}

/// The steps the check took, in order.
fn steps_of(report: &CheckReport) -> Vec<Step> {
    report.steps.iter().map(|s| s.step).collect()
}

fn failed_step(report: &CheckReport) -> Option<Step> {
    report
        .steps
        .iter()
        .find(|s| s.outcome == StepOutcome::Failed)
        .map(|s| s.step)
}

fn no_login_was_sent(fake: &fake::Fake) -> bool {
    fake.received()
        .iter()
        .all(|l| !l.contains("LOGIN") && !l.contains("AUTHENTICATE") && !l.contains(PASSWORD))
}

fn assert_password_absent(report: &CheckReport, events: &[StepEvent], password: &str) {
    let json = serde_json::to_string(report).expect("serialises");
    let debug = format!("{report:?} {events:?}");
    let events_json = serde_json::to_string(events).expect("serialises");
    // The escaped form is also how JSON and Debug would show the password.
    let escaped = password.replace('\\', r"\\").replace('"', r#"\""#);
    for text in [json, debug, events_json] {
        assert!(!text.contains(password), "the password leaked: {text}");
        assert!(!text.contains(&escaped), "the password leaked: {text}");
    }
}

#[test]
fn the_check_future_can_be_spawned() {
    fn assert_send<T: Send>(_: &T) {}
    let server = local(1, TlsMode::None);
    let (tx, _rx) = mpsc::channel(1);
    let secret = SecretString::from("x".to_owned());
    let limits = Limits::default();
    let future = run_check(&server, "ann", &secret, &limits, tx);
    assert_send(&future);
}

#[tokio::test]
async fn a_plaintext_server_offering_only_xoauth2_with_logindisabled_has_no_password_mechanism() {
    let (fake, report) = check_plaintext(Script {
        greeting: Some("* OK IMAP ready.".into()),
        capabilities: "IMAP4rev1 AUTH=XOAUTH2 LOGINDISABLED".into(),
        ..Script::default()
    })
    .await;
    assert_eq!(
        report.verdict,
        Verdict::NoPasswordMechanism {
            offered: vec!["XOAUTH2".into()]
        }
    );
    assert_eq!(failed_step(&report), Some(Step::Login));
    assert!(report.capabilities.contains(&"LOGINDISABLED".to_owned()));
    assert!(no_login_was_sent(&fake), "{:?}", fake.received());
}

#[tokio::test]
async fn logindisabled_on_plaintext_with_starttls_offered_means_tls_first() {
    let (fake, report) =
        check_plaintext(Script::capabilities("IMAP4rev1 STARTTLS LOGINDISABLED")).await;
    assert_eq!(report.verdict, Verdict::LoginDisabledBeforeTls);
    assert!(no_login_was_sent(&fake));
}

#[tokio::test]
async fn a_server_that_never_greets_times_out_within_the_check_bound() {
    let fake = fake::serve_silent().await;
    let limits = quick();
    let started = Instant::now();
    let (report, events) = check_with(&local(fake.port(), TlsMode::None), PASSWORD, limits).await;
    let took = started.elapsed();
    assert_eq!(
        report.verdict,
        Verdict::Timeout {
            step: Step::Greeting
        }
    );
    assert!(
        took < limits.total + Duration::from_millis(500),
        "took {took:?}"
    );
    // Before blaming the server, the check asked whether the port speaks TLS instead.
    let probe = step(&report, Step::TlsProbe);
    assert_eq!(probe.outcome, StepOutcome::Failed);
    assert!(report.verdict.advice().contains("never greeted"));
    // Each step announced its start and its end.
    let started = events
        .iter()
        .filter(|e| matches!(e, StepEvent::Started { .. }))
        .count();
    let finished = events
        .iter()
        .filter(|e| matches!(e, StepEvent::Finished(_)))
        .count();
    assert_eq!(started, report.steps.len());
    assert_eq!(finished, report.steps.len());
}

#[tokio::test]
async fn the_whole_check_stops_at_its_total_limit_even_with_generous_steps() {
    let fake = fake::serve_silent().await;
    let limits = Limits {
        step: Duration::from_secs(10),
        total: Duration::from_millis(500),
    };
    let started = Instant::now();
    let (report, _) = check_with(&local(fake.port(), TlsMode::Implicit), PASSWORD, limits).await;
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_verdict_matches!(report, Verdict::Timeout { .. });
    assert_eq!(
        report.facts.failure.map(|f| f.what),
        Some(StepFailure::TimedOut { whole_check: true })
    );
}

#[tokio::test]
async fn a_closed_port_is_a_refused_connection() {
    let port = mailkeys_test_support::ports::closed_port();
    let report = check(&local(port, TlsMode::Implicit)).await;
    assert_eq!(report.verdict, Verdict::ConnectionRefused);
    assert_eq!(failed_step(&report), Some(Step::Connect));
}

#[tokio::test]
async fn an_unresolvable_host_is_not_found() {
    let report = check(&server("nonexistent.invalid", 993, TlsMode::Implicit, None)).await;
    assert_eq!(report.verdict, Verdict::HostNotFound, "{:?}", report.steps);
    assert_eq!(failed_step(&report), Some(Step::Resolve));
}

#[tokio::test]
async fn tls_to_a_plaintext_port_is_recognised_by_its_greeting() {
    let fake = fake::serve(Script::default(), None).await;
    let report = check(&local(fake.port(), TlsMode::Implicit)).await;
    assert_eq!(report.verdict, Verdict::TlsToPlaintextPort);
    let tls_step = &report.steps[2];
    assert_eq!(tls_step.step, Step::TlsHandshake);
    assert!(tls_step.summary.contains("* OK"), "{}", tls_step.summary);
}

#[tokio::test]
async fn plaintext_to_a_tls_port_is_recognised_by_a_tls_probe() {
    let fake = self_signed_fake().await;
    for mode in [TlsMode::StartTls, TlsMode::None] {
        let (report, _) =
            check_with(&local(fake.port(), mode), PASSWORD, Limits::from_secs(1, 5)).await;
        assert_eq!(report.verdict, Verdict::PlaintextToTlsPort, "{mode:?}");
        let probe = step(&report, Step::TlsProbe);
        assert_eq!(probe.outcome, StepOutcome::Passed);
    }
    assert!(no_login_was_sent(&fake));
}

#[tokio::test]
async fn a_self_signed_certificate_is_described_and_the_password_is_not_sent() {
    let fake = self_signed_fake().await;
    let report = check(&local(fake.port(), TlsMode::Implicit)).await;
    assert_eq!(report.verdict, Verdict::CertificateSelfSigned);
    assert_eq!(failed_step(&report), Some(Step::TlsHandshake));
    let tls = report.tls.as_ref().expect("TLS details");
    assert!(!tls.valid_for_host);
    assert_eq!(tls.protocol, "TLS 1.3");
    let cert = tls.certificate.as_ref().expect("certificate details");
    assert!(cert.self_signed);
    assert_eq!(cert.subject, "CN=127.0.0.1");
    assert_eq!(cert.names, vec!["127.0.0.1"]);
    assert!(no_login_was_sent(&fake));
    assert!(
        report.greeting.is_none(),
        "nothing is read after a failed certificate"
    );
}

#[tokio::test]
async fn an_expired_certificate_gives_its_end_date() {
    let (ca, fake) = tls_fake(&["127.0.0.1", "localhost"], 2020, 2021).await;
    let report = check(&trusting(&ca, "127.0.0.1", fake.port(), TlsMode::Implicit)).await;
    assert_eq!(
        report.verdict,
        Verdict::CertificateExpired {
            not_after: Some(1_609_459_200)
        }
    );
    assert!(report.verdict.title().contains("1 January 2021"));
    let tls = report.tls.as_ref().expect("TLS details");
    assert_eq!(
        tls.certificate.as_ref().map(|c| c.issuer.as_str()),
        Some("CN=Mailkeys Test CA")
    );
    assert!(no_login_was_sent(&fake));
}

#[tokio::test]
async fn a_certificate_for_another_host_names_the_hosts_it_is_for() {
    let (ca, fake) = tls_fake(&["mail.example.test"], 2024, 2099).await;
    let report = check(&trusting(&ca, "127.0.0.1", fake.port(), TlsMode::Implicit)).await;
    assert_eq!(
        report.verdict,
        Verdict::CertificateWrongHost {
            host: "127.0.0.1".into(),
            names: vec!["mail.example.test".into()]
        }
    );
    assert!(no_login_was_sent(&fake));
}

#[tokio::test]
async fn a_certificate_from_an_unknown_authority_is_untrusted() {
    let (_ca, fake) = tls_fake(&["127.0.0.1"], 2024, 2099).await;
    // No ca_file: the system store does not know the test CA.
    let report = check(&local(fake.port(), TlsMode::Implicit)).await;
    assert_verdict_matches!(report, Verdict::CertificateUntrusted { .. });
    assert!(no_login_was_sent(&fake));
}

/// `NO [UNAVAILABLE]` in answer to LOGIN, or a `* BYE [UNAVAILABLE]` greeting.
#[tokio::test]
async fn unavailable_at_login_or_in_the_greeting_is_a_temporary_failure() {
    let moved = "NO [UNAVAILABLE] Account is being moved, try later.";
    let shutting_down = "* BYE [UNAVAILABLE] Server shutting down.";
    let cases = [
        // (script, step that fails, what the reason says)
        (Script::login_reply(moved), Step::Login, "being moved"),
        (Script::greeting(shutting_down), Step::Greeting, ""),
    ];
    for (script, failed_at, says) in cases {
        let (_fake, report) = check_plaintext(script).await;
        assert_verdict_matches!(report, Verdict::TemporaryFailure { reason } if reason.contains(says));
        assert_eq!(failed_step(&report), Some(failed_at), "{:?}", report.steps);
    }
}

#[tokio::test]
async fn a_wrong_password_is_explained_and_what_is_known_sharpens_it() {
    let (_fake, report) = check_plaintext(Script::login_reply(
        "NO [AUTHENTICATIONFAILED] Authentication failed.",
    ))
    .await;
    assert_eq!(report.verdict, Verdict::WrongPassword);
    let summary = &step(&report, Step::Login).summary;
    assert!(summary.contains("AUTHENTICATIONFAILED"), "{summary}");
    let revoked =
        report.with_known_credential(&KnownCredential::RevokedAppPassword { at: 1_740_000_000 });
    assert_eq!(
        revoked.verdict,
        Verdict::AppPasswordRevoked { at: 1_740_000_000 }
    );
}

#[tokio::test]
async fn a_password_the_server_echoes_never_reaches_the_report_or_the_events() {
    let password = "pa\"ss\\w0rd-hunter2";
    let fake = fake::serve(
        Script::login_reply(format!(
            "NO [AUTHENTICATIONFAILED] Bad password {password} in {}",
            r#"LOGIN "ann@example.test" "pa\"ss\\w0rd-hunter2""#
        )),
        None,
    )
    .await;
    let (report, events) = check_plaintext_with(&fake, password).await;
    assert_eq!(report.verdict, Verdict::WrongPassword);
    assert_password_absent(&report, &events, password);
    let summary = &step(&report, Step::Login).summary;
    assert!(summary.contains("[password hidden]"), "{summary}");
    // The password went as a properly escaped quoted string.
    let login = login_line(&fake);
    assert!(
        login.ends_with(r#" LOGIN "ann@example.test" "pa\"ss\\w0rd-hunter2""#),
        "{login}"
    );
}

#[tokio::test]
async fn a_successful_login_over_tls_counts_the_inbox() {
    let (ca, fake) = tls_fake(&["127.0.0.1", "localhost"], 2024, 2099).await;
    let target = trusting(&ca, "127.0.0.1", fake.port(), TlsMode::Implicit);
    let (report, events) = check_with(&target, PASSWORD, Limits::default()).await;
    assert_eq!(
        report.verdict,
        Verdict::Success { messages: 3 },
        "{:?}",
        report.steps
    );
    assert_eq!(report.messages, Some(3));
    assert_eq!(
        steps_of(&report),
        vec![
            Step::Resolve,
            Step::Connect,
            Step::TlsHandshake,
            Step::Greeting,
            Step::Capability,
            Step::Login,
            Step::SelectInbox,
            Step::Logout
        ]
    );
    assert!(report
        .steps
        .iter()
        .all(|s| s.outcome == StepOutcome::Passed));
    let tls = report.tls.as_ref().expect("TLS details");
    assert!(tls.valid_for_host);
    assert!(tls.problems.is_empty());
    assert_eq!(report.addresses, vec!["127.0.0.1"]);
    assert_eq!(
        report.capabilities,
        vec!["IMAP4rev1", "IDLE"],
        "from the LOGIN answer"
    );
    assert!(report
        .greeting
        .as_deref()
        .is_some_and(|g| g.contains("Fake ready")));
    assert_eq!(events.len(), 2 * report.steps.len());
    assert_password_absent(&report, &events, PASSWORD);
    let json = serde_json::to_value(&report).expect("serialises");
    assert_eq!(json["verdict"]["kind"], "success");
    assert_eq!(json["tls"]["protocol"], "TLS 1.3");
}

#[tokio::test]
async fn starttls_then_authenticate_plain_when_login_is_disabled() {
    let ca = TestCa::new();
    let script = Script {
        greeting: Some("* OK IMAP ready.".into()),
        capabilities: "IMAP4rev1 STARTTLS LOGINDISABLED".into(),
        capabilities_after_tls: "IMAP4rev1 AUTH=PLAIN LOGINDISABLED".into(),
        exists: 1,
        ..Script::default()
    };
    let (fake, target) = starttls_fake(&ca, "localhost", script).await;
    let report = check(&target).await;
    assert_eq!(
        report.verdict,
        Verdict::Success { messages: 1 },
        "{:?}",
        report.steps
    );
    assert_eq!(
        steps_of(&report),
        vec![
            Step::Resolve,
            Step::Connect,
            Step::Greeting,
            Step::Capability,
            Step::StartTls,
            Step::TlsHandshake,
            Step::Capability,
            Step::Login,
            Step::SelectInbox,
            Step::Logout
        ]
    );
    let received = fake.received();
    let before_tls: Vec<&String> = received
        .iter()
        .take_while(|l| !l.contains("STARTTLS"))
        .collect();
    assert!(before_tls.iter().all(|l| !l.contains("AUTHENTICATE")));
    assert!(
        received.iter().any(|l| l.ends_with("AUTHENTICATE PLAIN")),
        "{received:?}"
    );
    let tags: Vec<&str> = received
        .iter()
        .filter(|l| l.starts_with("mk"))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let mut unique = tags.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        tags.len(),
        unique.len(),
        "tags stay unique across STARTTLS: {tags:?}"
    );
    assert_eq!(
        report.verdict.title(),
        "It works: signed in and found 1 message in the inbox."
    );
}

#[tokio::test]
async fn a_non_ascii_password_goes_as_a_literal_and_arrives_intact() {
    let password = "pässwörd mit Leerzeichen";
    let fake = fake::serve(Script::default(), None).await;
    let (report, events) = check_plaintext_with(&fake, password).await;
    assert!(report.verdict.is_success(), "{:?}", report.steps);
    let login = login_line(&fake);
    let expected_tail = format!("{{{}}}{password}", password.len());
    assert!(login.ends_with(&expected_tail), "{login}");
    assert_password_absent(&report, &events, password);
}

#[tokio::test]
async fn data_injected_before_the_tls_handshake_stops_the_check() {
    let ca = TestCa::new();
    let script = Script {
        capabilities: "IMAP4rev1 STARTTLS".into(),
        starttls_injection: Some("* CAPABILITY IMAP4rev1 AUTH=PLAIN".into()),
        ..Script::default()
    };
    let (fake, target) = starttls_fake(&ca, "127.0.0.1", script).await;
    let report = check(&target).await;
    assert_eq!(
        failed_step(&report),
        Some(Step::StartTls),
        "{:?}",
        report.steps
    );
    assert_verdict_matches!(report, Verdict::ServerError { .. });
    assert!(report.steps.iter().any(|s| s.summary.contains("injection")));
    assert!(no_login_was_sent(&fake));
}

#[tokio::test]
async fn starttls_mode_refuses_a_server_that_does_not_offer_it() {
    let fake = fake::serve(Script::default(), None).await;
    let report = check(&local(fake.port(), TlsMode::StartTls)).await;
    assert_eq!(report.verdict, Verdict::StartTlsNotOffered);
    assert!(no_login_was_sent(&fake));
}
