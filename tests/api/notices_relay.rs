//! The relay: one that is down and comes back gets each notice once; two instances sharing
//! the queue send each notice once; STARTTLS and implicit TLS are used, and a certificate
//! from an unknown authority is refused.

use std::time::Duration;

use mailkeys::config::RelaySecurity;
use mailkeys::domain::UserId;
use mailkeys::services::notices::{self, Notice};
use mailkeys::store::users;
use reqwest::StatusCode;

use crate::both_backends;
use crate::notices::{a_few_worker_rounds, assert_clean, free_port, relay, subjects, RELAY_AUTH};
use mailkeys_test_support::certs::{TestCa, Validity};
use mailkeys_test_support::prelude::*;

async fn a_relay_that_is_down_then_back_gets_each_notice_once(backend: Backend) {
    let port = free_port();
    let app = spawn_app_with(backend, relay(port)).await;
    let alice = app.signed_in(ALICE).await;
    alice.create_app_password("Phone").await;
    // Nothing listens: the try fails and waits for the next (1 s of the test's clock,
    // which stands still meanwhile).
    let start = std::time::Instant::now();
    let (attempts, error): (i64, Option<String>) = loop {
        let row: (i64, Option<String>) =
            sqlx::query_as("SELECT attempts, last_error FROM notice_queue")
                .fetch_one(&app.db.pool)
                .await
                .unwrap();
        if row.1.is_some() || start.elapsed() > Duration::from_secs(15) {
            break row;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(attempts, 1);
    let error = error.expect("the failed try is recorded");
    assert!(!error.contains("relay-secret"), "{error}");
    app.add_user("root@example.org", PASSWORD, true).await;
    let admin = app.browser();
    admin.sign_in("root@example.org", PASSWORD).await;
    let page = admin.get_text("/admin/notices").await;
    assert!(
        page.contains("pending: 1") && page.contains(&error),
        "{page}"
    );
    assert!(admin
        .get_text("/admin")
        .await
        .contains(r#"href="/admin/notices""#));
    assert_eq!(
        alice.get_status("/admin/notices").await,
        StatusCode::NOT_FOUND
    );

    let sink = SmtpSink::start(port, SinkSecurity::Plain, Some(RELAY_AUTH));
    app.clock.advance(2);
    let mails = sink.wait_for(1).await;
    assert_eq!(
        subjects(&mails),
        ["Mailkeys: A new app password was created"]
    );
    // Much later, with the worker going round all the while: still the one message.
    app.clock.advance(24 * 3600);
    a_few_worker_rounds().await;
    assert_eq!(sink.received().len(), 1, "delivered once, not twice");
    let (status, attempts): (String, i64) =
        sqlx::query_as("SELECT status, attempts FROM notice_queue")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), attempts), ("sent", 2));
    // The clock moved a day: the admin signs in again.
    let admin = app.browser();
    admin.sign_in("root@example.org", PASSWORD).await;
    assert!(admin.get_text("/admin/notices").await.contains("sent: 1"));
}
both_backends!(a_relay_that_is_down_then_back_gets_each_notice_once);

async fn tls_relays_are_used_and_their_certificate_checked(backend: Backend) {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    ca.issue(&["127.0.0.1"], Validity::current())
        .write_pem(dir.path());
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    for (security, trusted) in [
        (RelaySecurity::StartTls, true),
        (RelaySecurity::Tls, true),
        (RelaySecurity::StartTls, false),
    ] {
        let sink_security = match security {
            RelaySecurity::Tls => SinkSecurity::Tls {
                cert: &cert,
                key: &key,
            },
            _ => SinkSecurity::StartTls {
                cert: &cert,
                key: &key,
            },
        };
        let sink = SmtpSink::start(free_port(), sink_security, Some(RELAY_AUTH));
        let ca_file = ca.pem_file.clone();
        let app = spawn_app_with(backend, |s| {
            relay(sink.port)(s);
            s.smtp_relay_security = security;
            s.smtp_relay_ca_file = trusted.then_some(ca_file);
        })
        .await;
        let alice = app.signed_in(ALICE).await;
        alice.create_app_password("Phone").await;
        if trusted {
            let mails = sink.wait_for(1).await;
            assert!(mails[0].tls, "{security:?}: sent over TLS");
            assert_clean(&mails, ALICE, &[PASSWORD]);
        } else {
            a_few_worker_rounds().await;
            assert!(
                sink.received().is_empty(),
                "an unknown authority is not trusted"
            );
            let error: Option<String> = sqlx::query_scalar("SELECT last_error FROM notice_queue")
                .fetch_one(&app.db.pool)
                .await
                .unwrap();
            assert!(error.unwrap_or_default().contains("certificate"));
        }
    }
}
both_backends!(tls_relays_are_used_and_their_certificate_checked);

async fn two_instances_on_one_database_send_each_notice_once(backend: Backend) {
    let sink = SmtpSink::start(free_port(), SinkSecurity::Plain, Some(RELAY_AUTH));
    let first = spawn_app_with(backend, relay(sink.port)).await;
    let second = spawn_app_on(
        tempfile::tempdir().unwrap(),
        first.database_url.clone(),
        relay(sink.port),
    )
    .await;
    let id = first.add_user(ALICE, PASSWORD, false).await;
    let alice = users::find_by_id(&first.db, UserId(id))
        .await
        .unwrap()
        .unwrap();
    // Forty notices become due at once, for two workers polling the same queue.
    const COUNT: usize = 40;
    let mut tx = first.db.begin().await.unwrap();
    for n in 0..COUNT {
        let notice = Notice::AppPasswordCreated {
            name: format!("device-{n}"),
        };
        notices::enqueue(&first.state.services, &mut tx, &alice, &notice, None)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    let mails = sink.wait_for(COUNT).await;
    a_few_worker_rounds().await;
    let mut names: Vec<String> = sink
        .received()
        .iter()
        .map(|m| {
            let text = m.decoded();
            let start = text.find("device-").unwrap();
            text[start..].split('"').next().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        names.len(),
        COUNT,
        "{} mails for {COUNT} notices",
        names.len()
    );
    names.sort();
    names.dedup();
    assert_eq!(names.len(), COUNT, "each notice once");
    assert_eq!(mails.len(), COUNT);
    let sent = second
        .count("SELECT COUNT(*) FROM notice_queue WHERE status = 'sent' AND attempts = 1")
        .await;
    assert_eq!(sent, COUNT as i64, "each claimed by one worker, once");
}
both_backends!(two_instances_on_one_database_send_each_notice_once);

async fn a_relay_refusing_for_good_marks_the_notice_failed_without_its_password(backend: Backend) {
    // The relay knows another password: it answers 535, a refusal for good.
    let sink = SmtpSink::start(
        free_port(),
        SinkSecurity::Plain,
        Some("relay-user:other-one"),
    );
    let app = spawn_app_with(backend, relay(sink.port)).await;
    let alice = app.signed_in(ALICE).await;
    alice.create_app_password("Phone").await;
    let start = std::time::Instant::now();
    let (status, error): (String, Option<String>) = loop {
        let row: (String, Option<String>) =
            sqlx::query_as("SELECT status, last_error FROM notice_queue")
                .fetch_one(&app.db.pool)
                .await
                .unwrap();
        if row.0 != "pending" || start.elapsed() > Duration::from_secs(15) {
            break row;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        status, "failed",
        "not retried: the relay refused for good ({error:?})"
    );
    let error = error.unwrap_or_default();
    assert!(error.contains("535"), "{error}");
    assert!(!error.contains("relay-secret"), "{error}");
    assert!(sink.received().is_empty());
}
both_backends!(a_relay_refusing_for_good_marks_the_notice_failed_without_its_password);
