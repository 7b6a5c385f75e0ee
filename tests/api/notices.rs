//! Notices by mail: each change is reported to the account's address through a real SMTP
//! server on loopback (tests/fixtures/smtp_sink.py), with no secret in it; queued in the
//! change's transaction (a rolled-back change sends nothing, a change whose notice cannot be
//! queued is not made); a relay that is down and comes back gets each notice once; a new
//! browser's sign-in is reported and the same browser's is not; a lock is reported once.

use std::time::Duration;

use mailkeys::config::{RelaySecurity, Settings};
use mailkeys::domain::lockout::FREE_FAILURES;
use mailkeys::domain::UserId;
use mailkeys::services::notices::{self, Notice, SecondFactor};
use mailkeys::store::users;
use reqwest::StatusCode;

use crate::both_backends;
use mailkeys_test_support::certs::{TestCa, Validity};
use mailkeys_test_support::prelude::*;

const RELAY_AUTH: &str = "relay-user:relay-secret-9431";

/// Settings of a plain relay on loopback at `port`, with a username and password, and a
/// retry base of one second of the test's clock.
fn relay(port: u16) -> impl FnOnce(&mut Settings) {
    move |s| {
        s.smtp_relay_host = Some("127.0.0.1".into());
        s.smtp_relay_port = Some(port);
        s.smtp_relay_security = RelaySecurity::None;
        s.smtp_relay_username = Some("relay-user".to_owned().into());
        s.smtp_relay_password = Some("relay-secret-9431".to_owned().into());
        s.notice_from = Some("Mailkeys <keys@example.org>".into());
        s.notice_retry_base_secs = 1;
        s.public_url = Some("http://keys.example.org".parse().unwrap());
        s.sign_in_per_ip_per_minute = 1000;
    }
}

fn free_port() -> u16 {
    reserve_port().release()
}

/// A sink on a free port and an app that sends to it.
async fn app_and_sink(backend: Backend) -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start(free_port(), SinkSecurity::Plain, Some(RELAY_AUTH));
    let app = spawn_app_with(backend, relay(sink.port)).await;
    (app, sink)
}

async fn queued(app: &TestApp, kind: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM notice_queue WHERE kind = '{kind}'"
    ))
    .await
}

fn subjects(mails: &[Received]) -> Vec<String> {
    let mut subjects: Vec<String> = mails.iter().filter_map(|m| m.header("Subject")).collect();
    subjects.sort();
    subjects
}

/// Fails if any mail holds one of `secrets` (as sent, or with its quoted-printable
/// undone), or is not a plain-text and HTML mail to `to`.
fn assert_clean(mails: &[Received], to: &str, secrets: &[&str]) {
    for mail in mails {
        assert_eq!(mail.rcpt_tos, [to]);
        assert!(
            mail.authenticated,
            "the relay's username and password were used"
        );
        assert!(mail.header("From").unwrap().contains("keys@example.org"));
        assert!(mail.data.contains("multipart/alternative"));
        assert!(mail.data.contains("text/plain") && mail.data.contains("text/html"));
        assert!(
            !mail.data.contains("base64"),
            "readable without decoding base64"
        );
        let decoded = mail.decoded();
        for secret in secrets {
            assert!(
                !mail.data.contains(secret) && !decoded.contains(secret),
                "a notice holds a secret: {decoded}"
            );
        }
    }
}

/// Sleeps past a few rounds of the worker, so that a notice that should not exist would.
async fn a_few_worker_rounds() {
    tokio::time::sleep(Duration::from_millis(2500)).await;
}

async fn a_users_own_changes_are_each_reported_without_a_secret(backend: Backend) {
    let (app, sink) = app_and_sink(backend).await;
    app.add_user(ALICE, PASSWORD, false).await;
    let alice = app.browser();
    assert_eq!(
        alice.sign_in_status(ALICE, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    let created = alice.create_app_password("Phone").await;
    assert_eq!(alice.rotate(false).await.status(), StatusCode::SEE_OTHER);

    let mails = sink.wait_for(2).await;
    a_few_worker_rounds().await;
    let mails_now = sink.received();
    assert_eq!(
        mails_now.len(),
        2,
        "an account's first sign-in is not reported"
    );
    assert_eq!(
        subjects(&mails),
        [
            "Mailkeys: A new app password was created",
            "Mailkeys: Your password was changed"
        ]
    );
    assert_clean(&mails, ALICE, &[&created.plaintext, PASSWORD, NEW_PASSWORD]);
    let made = mails
        .iter()
        .map(Received::decoded)
        .find(|text| text.contains("new app password named"))
        .unwrap();
    for fact in [
        "\"Phone\"",
        "UTC",
        "From:    127.0.0.1",
        "http://keys.example.org/account",
    ] {
        assert!(made.contains(fact), "{fact} in {made}");
    }
    assert!(made.contains("If this was not you"));
    let sent = app
        .count("SELECT COUNT(*) FROM notice_queue WHERE status = 'sent' AND sent_at IS NOT NULL")
        .await;
    assert_eq!(sent, 2);
}
both_backends!(a_users_own_changes_are_each_reported_without_a_secret);

async fn an_admins_revocations_are_reported_to_the_owner(backend: Backend) {
    let (app, sink) = app_and_sink(backend).await;
    let alice = app.signed_in(ALICE).await;
    let (_, phone) = app.new_app_password(&alice, "Phone").await;
    app.new_app_password(&alice, "Laptop").await;
    app.add_user("root@example.org", PASSWORD, true).await;
    let admin = app.browser();
    assert_eq!(
        admin.sign_in_status("root@example.org", PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    let page = format!("/admin/users/{}", app.user_id(ALICE).await);
    let revoke_one = format!("{page}/app-passwords/{phone}/revoke");
    admin.post(&page, &revoke_one, &[("reason", "lost")]).await;
    admin
        .post(
            &page,
            &format!("{page}/revoke-all"),
            &[("reason", "phished")],
        )
        .await;

    let mails = sink.wait_for(4).await;
    a_few_worker_rounds().await;
    assert_eq!(
        sink.received().len(),
        4,
        "two created, two revoked; none to the admin"
    );
    assert_eq!(
        subjects(&mails),
        [
            "Mailkeys: A new app password was created",
            "Mailkeys: A new app password was created",
            "Mailkeys: An administrator revoked an app password",
            "Mailkeys: An administrator revoked your app passwords",
        ]
    );
    assert_clean(&mails, ALICE, &[PASSWORD]);
    assert!(mails
        .iter()
        .any(|m| m.decoded().contains("revoked your app password \"Phone\"")));
    assert!(mails
        .iter()
        .any(|m| m.decoded().contains("all your app passwords (1)")));
}
both_backends!(an_admins_revocations_are_reported_to_the_owner);

async fn a_new_browser_is_reported_and_the_same_browser_is_not(backend: Backend) {
    let (app, sink) = app_and_sink(backend).await;
    app.add_user(ALICE, PASSWORD, false).await;
    let laptop = app.browser();
    assert_eq!(
        laptop.sign_in_status(ALICE, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        queued(&app, "new_sign_in").await,
        0,
        "the first sign-in ever"
    );
    laptop.sign_out().await;
    assert_eq!(
        laptop.sign_in_status(ALICE, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        queued(&app, "new_sign_in").await,
        0,
        "the same browser again"
    );

    let phone = app.browser();
    assert_eq!(
        phone.sign_in_status(ALICE, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(queued(&app, "new_sign_in").await, 1, "another browser");
    phone.sign_out().await;
    assert_eq!(
        phone.sign_in_status(ALICE, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        queued(&app, "new_sign_in").await,
        1,
        "that browser is known now"
    );

    let mails = sink.wait_for(1).await;
    a_few_worker_rounds().await;
    assert_eq!(sink.received().len(), 1);
    assert_eq!(subjects(&mails), ["Mailkeys: New sign-in to your account"]);
    assert!(mails[0]
        .decoded()
        .contains("from a browser that had not been used"));
    assert_clean(&mails, ALICE, &[PASSWORD]);
    let devices = app
        .count("SELECT COUNT(*) FROM known_devices WHERE kind = 'device'")
        .await;
    assert_eq!(
        devices, 2,
        "one row per browser, holding the cookie's digest"
    );
}
both_backends!(a_new_browser_is_reported_and_the_same_browser_is_not);

async fn a_lock_is_reported_once_per_lock(backend: Backend) {
    let (app, sink) = app_and_sink(backend).await;
    app.add_user(ALICE, PASSWORD, false).await;
    let attacker = app.browser();
    let wrong = "wrong guess 1234";
    for _ in 0..FREE_FAILURES {
        assert_eq!(
            attacker.sign_in_status(ALICE, wrong).await,
            StatusCode::UNAUTHORIZED
        );
    }
    for _ in 0..3 {
        assert_eq!(
            attacker.sign_in_status(ALICE, wrong).await,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    assert_eq!(
        queued(&app, "account_locked").await,
        1,
        "one lock, one notice"
    );
    // The first lock ends; the next failure starts a second, longer one.
    app.clock.advance(31);
    assert_eq!(
        attacker.sign_in_status(ALICE, wrong).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        attacker.sign_in_status(ALICE, wrong).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(queued(&app, "account_locked").await, 2);
    // An address without an account locks too, and nobody is told.
    for _ in 0..FREE_FAILURES {
        attacker.sign_in_status("ghost@example.org", wrong).await;
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM notice_queue").await, 2);

    let mails = sink.wait_for(2).await;
    assert_eq!(
        subjects(&mails),
        ["Mailkeys: Sign-in to your account was locked"; 2]
    );
    assert_clean(&mails, ALICE, &[wrong, PASSWORD]);
}
both_backends!(a_lock_is_reported_once_per_lock);

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

async fn second_factor_notices_go_with_their_transaction(backend: Backend) {
    let (app, sink) = app_and_sink(backend).await;
    let id = app.add_user(ALICE, PASSWORD, false).await;
    let alice = users::find_by_id(&app.db, UserId(id))
        .await
        .unwrap()
        .unwrap();
    let services = &app.state.services;
    let added = Notice::SecondFactorAdded {
        factor: SecondFactor::Passkey,
    };
    // Rolled back: nothing queued, nothing sent.
    let mut tx = app.db.begin().await.unwrap();
    notices::enqueue(services, &mut tx, &alice, &added, Some("192.0.2.7"))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(app.count("SELECT COUNT(*) FROM notice_queue").await, 0);

    let committed = [
        Notice::SecondFactorAdded {
            factor: SecondFactor::AuthenticatorApp,
        },
        added,
        Notice::SecondFactorAdded {
            factor: SecondFactor::RecoveryCodes,
        },
        Notice::SecondFactorRemoved {
            factor: SecondFactor::Passkey,
        },
        Notice::SecondFactorsReset,
    ];
    for notice in &committed {
        let mut tx = app.db.begin().await.unwrap();
        notices::enqueue(services, &mut tx, &alice, notice, Some("192.0.2.7"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let mails = sink.wait_for(committed.len()).await;
    a_few_worker_rounds().await;
    assert_eq!(
        sink.received().len(),
        committed.len(),
        "the rolled-back one never went out"
    );
    let all = subjects(&mails);
    assert_eq!(all.iter().filter(|s| s.contains("was added")).count(), 3);
    assert!(all.contains(&"Mailkeys: A second factor was removed from your account".to_owned()));
    assert!(all.contains(&"Mailkeys: An administrator reset your second factors".to_owned()));
    for words in [
        "an authenticator app",
        "a passkey or security key",
        "recovery codes",
    ] {
        assert!(mails.iter().any(|m| m.decoded().contains(words)), "{words}");
    }
    assert!(mails.iter().all(|m| m.decoded().contains("192.0.2.7")));
    assert_clean(&mails, ALICE, &[PASSWORD]);
}
both_backends!(second_factor_notices_go_with_their_transaction);

async fn a_change_whose_notice_cannot_be_queued_is_not_made(backend: Backend) {
    let (app, _sink) = app_and_sink(backend).await;
    let alice = app.signed_in(ALICE).await;
    let refuse: &[&str] = match backend {
        Backend::Sqlite => &["CREATE TRIGGER refuse BEFORE INSERT ON notice_queue \
             BEGIN SELECT RAISE(ABORT, 'refused'); END"],
        Backend::Postgres => &[
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; \
             END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse BEFORE INSERT ON notice_queue \
             FOR EACH ROW EXECUTE FUNCTION refuse()",
        ],
    };
    for sql in refuse {
        sqlx::query(sql).execute(&app.db.pool).await.unwrap();
    }
    let response = alice
        .create_app_password_with(&[("name", "Phone"), ("expires", "never"), ("scope", "imap")])
        .await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        app.live_app_passwords().await,
        0,
        "rolled back with its notice"
    );
    let events = app.audit_events_of(ALICE).await;
    assert!(
        !events.iter().any(|e| e == "app_password_created"),
        "{events:?}"
    );
}
both_backends!(a_change_whose_notice_cannot_be_queued_is_not_made);

async fn without_a_relay_nothing_is_queued(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    alice.create_app_password("Phone").await;
    assert_eq!(alice.rotate(true).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT COUNT(*) FROM notice_queue").await, 0);
    app.add_user("root@example.org", PASSWORD, true).await;
    let admin = app.browser();
    admin.sign_in("root@example.org", PASSWORD).await;
    let page = admin.get_text("/admin/notices").await;
    assert!(page.contains("No SMTP relay is configured"), "{page}");
}
both_backends!(without_a_relay_nothing_is_queued);

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
