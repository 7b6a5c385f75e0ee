//! Password attempts: the count taken before hashing holds against simultaneous attempts,
//! re-authentication shares it, it decays, nothing typed is stored, and an admin can still
//! find the attempts made with an address.

use mailkeys::domain::lockout::{DECAY_SECS, FREE_FAILURES};
use reqwest::StatusCode;

use crate::both_backends;
use mailkeys_test_support::prelude::*;

/// The in-memory per-address minute limit stands aside: what is under test is the count in
/// the database.
async fn app_without_minute_limit(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| {
        s.sign_in_per_ip_per_minute = 100_000;
        // The floods come from one loopback address, up to 200 connections at once.
        s.max_connections_per_address = 1000;
    })
    .await
}

async fn two_hundred_simultaneous_wrong_passwords_hash_at_most_the_free_ones(backend: Backend) {
    let (app, browser) = app_without_minute_limit(backend).await.and_alice().await;
    let attacker = app.browser();
    let csrf = attacker.csrf("/sign-in").await;
    let hashed_before = app.state.hasher.verifications();
    let attempts = (0..200).map(|n| {
        let attacker = attacker.clone();
        let csrf = csrf.clone();
        async move {
            let form = [
                ("csrf", csrf.as_str()),
                ("email", ALICE),
                ("password", &format!("wrong guess {n}")),
            ];
            attacker.post_raw("/sign-in", &form).await.status()
        }
    });
    let statuses = futures_join_all(attempts).await;
    let hashed = app.state.hasher.verifications() - hashed_before;
    assert!(
        hashed <= FREE_FAILURES as u64,
        "{hashed} argon2 verifications for 200 simultaneous attempts; at most {FREE_FAILURES}"
    );
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let locked = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(
        refused as u64, hashed,
        "each hashed attempt is answered 401"
    );
    assert_eq!(refused + locked, 200, "{statuses:?}");

    // The owner, signed in elsewhere, is untouched; once the lock ends the right password
    // works.
    assert_eq!(browser.get_status("/").await, StatusCode::OK);
    app.clock.advance(31);
    let owner = app.browser();
    assert_eq!(
        owner.sign_in_status(ALICE, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
}
both_backends!(two_hundred_simultaneous_wrong_passwords_hash_at_most_the_free_ones);

/// `join_all` without another dependency: the requests run concurrently on the runtime.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

async fn the_current_password_field_shares_the_sign_in_lock(backend: Backend) {
    let (app, browser) = app_without_minute_limit(backend).await.and_alice().await;
    for _ in 0..FREE_FAILURES {
        let response = browser
            .change_password("not it", NEW_PASSWORD, NEW_PASSWORD, false)
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let hashed_before = app.state.hasher.verifications();
    let locked = browser.rotate(false).await;
    assert_eq!(
        locked.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right current password waits"
    );
    assert!(locked
        .text()
        .await
        .unwrap()
        .contains("Too many wrong passwords"));
    assert_eq!(
        app.state.hasher.verifications(),
        hashed_before,
        "a locked attempt runs no argon2"
    );
    assert_eq!(
        app.browser().sign_in_status(ALICE, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the guesses through the password form lock the sign-in form too"
    );
    app.clock.advance(31);
    assert_eq!(browser.rotate(false).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.browser().sign_in_status(ALICE, NEW_PASSWORD).await,
        StatusCode::SEE_OTHER,
        "the right password reset the count"
    );
}
both_backends!(the_current_password_field_shares_the_sign_in_lock);

async fn many_wrong_passwords_from_one_address_lock_that_address(backend: Backend) {
    let app = app_without_minute_limit(backend).await;
    app.add_user(ALICE, PASSWORD, false).await;
    let browser = app.browser();
    // A different account each time: no account reaches its own lock.
    for n in 0..mailkeys::domain::lockout::FREE_FAILURES_PER_ADDRESS {
        let status = browser
            .sign_in_status(&format!("user{n}@example.org"), "wrong")
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {n}");
    }
    let hashed_before = app.state.hasher.verifications();
    assert_eq!(
        browser.sign_in_status(ALICE, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(app.state.hasher.verifications(), hashed_before);
}
both_backends!(many_wrong_passwords_from_one_address_lock_that_address);

async fn a_trickle_of_wrong_guesses_never_locks_the_owner_out(backend: Backend) {
    let app = app_without_minute_limit(backend).await;
    app.add_user(ALICE, PASSWORD, false).await;
    let attacker = app.browser();
    // One guess every quarter of an hour, for five hours.
    for _ in 0..20 {
        assert_eq!(
            attacker.sign_in_status(ALICE, "guess").await,
            StatusCode::UNAUTHORIZED,
            "a trickle is never locked"
        );
        app.clock.advance(DECAY_SECS);
    }
    app.clock.advance(-DECAY_SECS + 60);
    // A minute after the attacker's last guess, the owner signs in.
    assert_eq!(
        app.browser().sign_in_status(ALICE, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
}
both_backends!(a_trickle_of_wrong_guesses_never_locks_the_owner_out);

async fn nothing_typed_into_the_email_field_is_stored(backend: Backend) {
    let app = app_without_minute_limit(backend).await;
    let browser = app.browser();
    let typed = "Hunter2-Typed-In-The-Wrong-Field";
    assert_eq!(
        browser.sign_in_status(typed, "whatever").await,
        StatusCode::UNAUTHORIZED
    );
    let needle = typed.to_lowercase();
    let texts: Vec<String> = sqlx::query_scalar(
        "SELECT key_hash FROM attempt_throttle UNION ALL \
         SELECT detail || ' ' || COALESCE(ip, '') || ' ' || COALESCE(typed_key, '') FROM audit_log",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert!(
        texts.len() >= 3,
        "the attempt was counted and audited: {texts:?}"
    );
    for text in &texts {
        assert!(!text.to_lowercase().contains(&needle), "{text}");
    }
    if let Some(path) = app.database_url.strip_prefix("sqlite://") {
        // The file and its write-ahead log, byte for byte.
        for file in [path.to_owned(), format!("{path}-wal")] {
            let bytes = std::fs::read(&file).unwrap_or_default();
            let raw = String::from_utf8_lossy(&bytes).to_lowercase();
            assert!(!raw.contains(&needle), "typed text found in {file}");
        }
    }
}
both_backends!(nothing_typed_into_the_email_field_is_stored);

async fn an_admin_finds_failed_sign_ins_for_an_address_with_no_account(backend: Backend) {
    let app = app_without_minute_limit(backend).await;
    app.add_user("root@example.org", PASSWORD, true).await;
    let admin = app.browser();
    admin.sign_in("root@example.org", PASSWORD).await;
    let stranger = app.browser();
    stranger.sign_in("ghost@example.org", "one").await;
    stranger.sign_in("ghost@example.org", "two").await;
    stranger.sign_in("someone@example.org", "three").await;

    let page = admin
        .get_text("/admin/failed-sign-ins?address=%20Ghost@Example.org")
        .await;
    assert_eq!(page.matches("A sign-in failed").count(), 2, "{page}");
    assert!(page.contains("unknown account"), "{page}");
    let none = admin
        .get_text("/admin/failed-sign-ins?address=nobody@example.org")
        .await;
    assert!(
        none.contains("No failed attempts with this address"),
        "{none}"
    );
    assert!(admin
        .get_text("/admin")
        .await
        .contains("/admin/failed-sign-ins"));

    let user = app.signed_in(ALICE).await;
    assert_eq!(
        user.get_status("/admin/failed-sign-ins?address=ghost@example.org")
            .await,
        StatusCode::NOT_FOUND,
        "admins only"
    );
}
both_backends!(an_admin_finds_failed_sign_ins_for_an_address_with_no_account);

async fn counts_are_deleted_once_they_no_longer_matter(backend: Backend) {
    let app = app_without_minute_limit(backend).await;
    let browser = app.browser();
    for _ in 0..3 {
        browser.sign_in("ghost@example.org", "wrong").await;
    }
    let rows = "SELECT COUNT(*) FROM attempt_throttle";
    assert_eq!(
        app.count(rows).await,
        2,
        "one for the account, one for the address"
    );
    let purge = || mailkeys::services::attempts::purge_expired(&app.state);
    assert_eq!(purge().await.unwrap(), 0, "still counting");
    // Three failures decay in three quiet periods; the address's count too.
    app.clock.advance(3 * DECAY_SECS);
    assert_eq!(purge().await.unwrap(), 2);
    assert_eq!(app.count(rows).await, 0);
}
both_backends!(counts_are_deleted_once_they_no_longer_matter);

async fn a_locked_account_gets_no_main_password_verdict_from_the_connection_test(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.sign_in_per_ip_per_minute = 100_000;
        s.mail_servers = vec![nowhere()];
    })
    .await;
    let (app, browser) = app.and_alice().await;
    for _ in 0..FREE_FAILURES {
        app.browser().sign_in(ALICE, "wrong").await;
    }
    let hashed_before = app.state.hasher.verifications();
    let form = [("server", "0"), ("password", PASSWORD)];
    let response = browser.post("/check", "/check", &form).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        app.state.hasher.verifications(),
        hashed_before,
        "while locked, the test does not verify the typed password against the main one"
    );
}
both_backends!(a_locked_account_gets_no_main_password_verdict_from_the_connection_test);

/// The SQLite file Mailkeys creates, with the README's default `database_url`, is in WAL
/// mode (kept in the file, so Dovecot's connections use it too), and Mailkeys' own
/// connections use `synchronous = NORMAL` and a busy timeout.
#[tokio::test]
async fn the_sqlite_file_mailkeys_creates_is_in_wal_mode() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = run_mailkeys(
        |c| {
            c.current_dir(dir.path())
                .env_remove("DATABASE_URL")
                .env_remove("MAILKEYS_DATABASE_URL")
                .arg("migrate");
        },
        "",
    );
    assert!(ok, "{stderr}");
    let path = dir.path().join("mailkeys.db");
    let mut plain = sqlx::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new().filename(&path),
    )
    .await
    .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut plain)
        .await
        .unwrap();
    assert_eq!(mode, "wal");

    let db = mailkeys::store::Db::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(synchronous, 1, "NORMAL");
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(busy, 5000);
}
