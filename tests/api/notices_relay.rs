//! The relay: one that is down and comes back gets each notice once; STARTTLS and implicit
//! TLS are used, and a certificate from an unknown authority is refused.

use std::time::Duration;

use mailkeys::config::RelaySecurity;
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
