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
    let fake = fake::serve(
        Script {
            greeting: Some("* OK IMAP ready.".into()),
            capabilities: "IMAP4rev1 AUTH=XOAUTH2 LOGINDISABLED".into(),
            ..Script::default()
        },
        None,
    )
    .await;
    let report = check(&local(fake.port(), TlsMode::None)).await;
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
    let fake = fake::serve(
        Script {
            capabilities: "IMAP4rev1 STARTTLS LOGINDISABLED".into(),
            ..Script::default()
        },
        None,
    )
    .await;
    let report = check(&local(fake.port(), TlsMode::None)).await;
    assert_eq!(report.verdict, Verdict::LoginDisabledBeforeTls);
    assert!(no_login_was_sent(&fake));
}

#[tokio::test]
async fn a_server_that_never_greets_times_out_within_the_check_bound() {
    let fake = fake::serve(
        Script {
            greeting: None,
            ..Script::default()
        },
        None,
    )
    .await;
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
    let probe = report
        .steps
        .iter()
        .find(|s| s.step == Step::TlsProbe)
        .expect("probed");
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
    let fake = fake::serve(
        Script {
            greeting: None,
            ..Script::default()
        },
        None,
    )
    .await;
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
    assert!(
        matches!(report.verdict, Verdict::Timeout { .. }),
        "{:?}",
        report.verdict
    );
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
    let config = self_signed_server(&["127.0.0.1"]);
    let fake = fake::serve(Script::default(), Some(config)).await;
    for mode in [TlsMode::StartTls, TlsMode::None] {
        let (report, _) =
            check_with(&local(fake.port(), mode), PASSWORD, Limits::from_secs(1, 5)).await;
        assert_eq!(report.verdict, Verdict::PlaintextToTlsPort, "{mode:?}");
        let probe = report
            .steps
            .iter()
            .find(|s| s.step == Step::TlsProbe)
            .expect("probed");
        assert_eq!(probe.outcome, StepOutcome::Passed);
    }
    assert!(no_login_was_sent(&fake));
}

#[tokio::test]
async fn a_self_signed_certificate_is_described_and_the_password_is_not_sent() {
    let config = self_signed_server(&["127.0.0.1"]);
    let fake = fake::serve(Script::default(), Some(config)).await;
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
    let ca = TestCa::new();
    let config = ca.server(&["127.0.0.1", "localhost"], 2020, 2021);
    let fake = fake::serve(Script::default(), Some(config)).await;
    let report = check(&server(
        "127.0.0.1",
        fake.port(),
        TlsMode::Implicit,
        Some(ca.pem_file.clone()),
    ))
    .await;
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
    let ca = TestCa::new();
    let config = ca.server(&["mail.example.test"], 2024, 2099);
    let fake = fake::serve(Script::default(), Some(config)).await;
    let report = check(&server(
        "127.0.0.1",
        fake.port(),
        TlsMode::Implicit,
        Some(ca.pem_file.clone()),
    ))
    .await;
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
    let ca = TestCa::new();
    let config = ca.server(&["127.0.0.1"], 2024, 2099);
    let fake = fake::serve(Script::default(), Some(config)).await;
    // No ca_file: the system store does not know the test CA.
    let report = check(&local(fake.port(), TlsMode::Implicit)).await;
    assert!(
        matches!(report.verdict, Verdict::CertificateUntrusted { .. }),
        "{:?}",
        report.verdict
    );
    assert!(no_login_was_sent(&fake));
}

#[tokio::test]
async fn unavailable_in_answer_to_login_is_a_temporary_failure() {
    let fake = fake::serve(
        Script {
            login_reply: "NO [UNAVAILABLE] Account is being moved, try later.".into(),
            ..Script::default()
        },
        None,
    )
    .await;
    let report = check(&local(fake.port(), TlsMode::None)).await;
    assert!(
        matches!(&report.verdict, Verdict::TemporaryFailure { reason } if reason.contains("being moved")),
        "{:?}",
        report.verdict
    );
    assert_eq!(failed_step(&report), Some(Step::Login));
}

#[tokio::test]
async fn a_bye_unavailable_greeting_is_a_temporary_failure() {
    let fake = fake::serve(
        Script {
            greeting: Some("* BYE [UNAVAILABLE] Server shutting down.".into()),
            ..Script::default()
        },
        None,
    )
    .await;
    let report = check(&local(fake.port(), TlsMode::None)).await;
    assert!(
        matches!(report.verdict, Verdict::TemporaryFailure { .. }),
        "{:?}",
        report.verdict
    );
    assert_eq!(failed_step(&report), Some(Step::Greeting));
}

#[tokio::test]
async fn a_wrong_password_is_explained_and_what_is_known_sharpens_it() {
    let fake = fake::serve(
        Script {
            login_reply: "NO [AUTHENTICATIONFAILED] Authentication failed.".into(),
            ..Script::default()
        },
        None,
    )
    .await;
    let report = check(&local(fake.port(), TlsMode::None)).await;
    assert_eq!(report.verdict, Verdict::WrongPassword);
    let summary = &report
        .steps
        .iter()
        .find(|s| s.step == Step::Login)
        .expect("login")
        .summary;
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
        Script {
            login_reply: format!(
                "NO [AUTHENTICATIONFAILED] Bad password {password} in {}",
                r#"LOGIN "ann@example.test" "pa\"ss\\w0rd-hunter2""#
            ),
            ..Script::default()
        },
        None,
    )
    .await;
    let (report, events) = check_with(
        &local(fake.port(), TlsMode::None),
        password,
        Limits::default(),
    )
    .await;
    assert_eq!(report.verdict, Verdict::WrongPassword);
    assert_password_absent(&report, &events, password);
    let summary = &report
        .steps
        .iter()
        .find(|s| s.step == Step::Login)
        .expect("login")
        .summary;
    assert!(summary.contains("[password hidden]"), "{summary}");
    // The password went as a properly escaped quoted string.
    let login = fake
        .received()
        .into_iter()
        .find(|l| l.contains("LOGIN"))
        .expect("login sent");
    assert!(
        login.ends_with(r#" LOGIN "ann@example.test" "pa\"ss\\w0rd-hunter2""#),
        "{login}"
    );
}

#[tokio::test]
async fn a_successful_login_over_tls_counts_the_inbox() {
    let ca = TestCa::new();
    let config = ca.server(&["127.0.0.1", "localhost"], 2024, 2099);
    let fake = fake::serve(Script::default(), Some(config)).await;
    let target = server(
        "127.0.0.1",
        fake.port(),
        TlsMode::Implicit,
        Some(ca.pem_file.clone()),
    );
    let (report, events) = check_with(&target, PASSWORD, Limits::default()).await;
    assert_eq!(
        report.verdict,
        Verdict::Success { messages: 3 },
        "{:?}",
        report.steps
    );
    assert_eq!(report.messages, Some(3));
    let steps: Vec<Step> = report.steps.iter().map(|s| s.step).collect();
    assert_eq!(
        steps,
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
    let fake = fake::serve(
        Script {
            greeting: Some("* OK IMAP ready.".into()),
            capabilities: "IMAP4rev1 STARTTLS LOGINDISABLED".into(),
            capabilities_after_tls: "IMAP4rev1 AUTH=PLAIN LOGINDISABLED".into(),
            starttls: Some(ca.server(&["localhost"], 2024, 2099)),
            exists: 1,
            ..Script::default()
        },
        None,
    )
    .await;
    let target = server(
        "localhost",
        fake.port(),
        TlsMode::StartTls,
        Some(ca.pem_file.clone()),
    );
    let report = check(&target).await;
    assert_eq!(
        report.verdict,
        Verdict::Success { messages: 1 },
        "{:?}",
        report.steps
    );
    let steps: Vec<Step> = report.steps.iter().map(|s| s.step).collect();
    assert_eq!(
        steps,
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
    let (report, events) = check_with(
        &local(fake.port(), TlsMode::None),
        password,
        Limits::default(),
    )
    .await;
    assert!(report.verdict.is_success(), "{:?}", report.steps);
    let login = fake
        .received()
        .into_iter()
        .find(|l| l.contains("LOGIN"))
        .expect("login sent");
    let expected_tail = format!("{{{}}}{password}", password.len());
    assert!(login.ends_with(&expected_tail), "{login}");
    assert_password_absent(&report, &events, password);
}

#[tokio::test]
async fn data_injected_before_the_tls_handshake_stops_the_check() {
    let ca = TestCa::new();
    let fake = fake::serve(
        Script {
            capabilities: "IMAP4rev1 STARTTLS".into(),
            starttls: Some(ca.server(&["127.0.0.1"], 2024, 2099)),
            starttls_injection: Some("* CAPABILITY IMAP4rev1 AUTH=PLAIN".into()),
            ..Script::default()
        },
        None,
    )
    .await;
    let target = server(
        "127.0.0.1",
        fake.port(),
        TlsMode::StartTls,
        Some(ca.pem_file.clone()),
    );
    let report = check(&target).await;
    assert_eq!(
        failed_step(&report),
        Some(Step::StartTls),
        "{:?}",
        report.steps
    );
    assert!(
        matches!(report.verdict, Verdict::ServerError { .. }),
        "{:?}",
        report.verdict
    );
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
