//! Notices by mail: each change is reported to the account's address through a real SMTP
//! server on loopback (tests/fixtures/smtp_sink.py), with no secret in it; queued in the
//! change's transaction (a rolled-back change sends nothing, a change whose notice cannot be
//! queued is not made); nothing is queued without a relay. Sign-in notices are in
//! `notices_sign_in`, the relay's failures and TLS in `notices_relay`.

use std::time::Duration;

use mailkeys::config::{RelaySecurity, Settings};
use mailkeys::domain::UserId;
use mailkeys::services::notices::{self, Notice, SecondFactor};
use mailkeys::store::users;
use reqwest::StatusCode;

use crate::both_backends;
use mailkeys_test_support::prelude::*;

pub(crate) const RELAY_AUTH: &str = "relay-user:relay-secret-9431";

/// Settings of a plain relay on loopback at `port`, with a username and password, and a
/// retry base of one second of the test's clock.
pub(crate) fn relay(port: u16) -> impl FnOnce(&mut Settings) {
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

pub(crate) fn free_port() -> u16 {
    reserve_port().release()
}

/// A sink on a free port and an app that sends to it.
pub(crate) async fn app_and_sink(backend: Backend) -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start(free_port(), SinkSecurity::Plain, Some(RELAY_AUTH));
    let app = spawn_app_with(backend, relay(sink.port)).await;
    (app, sink)
}

pub(crate) async fn queued(app: &TestApp, kind: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM notice_queue WHERE kind = '{kind}'"
    ))
    .await
}

pub(crate) fn subjects(mails: &[Received]) -> Vec<String> {
    let mut subjects: Vec<String> = mails.iter().filter_map(|m| m.header("Subject")).collect();
    subjects.sort();
    subjects
}

/// Fails if any mail holds one of `secrets` (as sent, or with its quoted-printable
/// undone), or is not a plain-text and HTML mail to `to`.
pub(crate) fn assert_clean(mails: &[Received], to: &str, secrets: &[&str]) {
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
pub(crate) async fn a_few_worker_rounds() {
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
