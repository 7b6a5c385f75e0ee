//! Sign-in notices: a new browser's sign-in is reported and the same browser's is not, a
//! new network's too; a lock is reported once per lock, and never for an address without an
//! account.

use mailkeys::domain::lockout::FREE_FAILURES;
use reqwest::StatusCode;

use crate::both_backends;
use crate::notices::{
    a_few_worker_rounds, app_and_sink, assert_clean, free_port, queued, relay, subjects, RELAY_AUTH,
};
use mailkeys_test_support::prelude::*;

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
    let response = phone.sign_in(ALICE, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    // The README's cookie: `mailkeys-device`, 400 days, not readable by scripts.
    let device_cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("mailkeys-device="))
        .expect("a new browser gets a device cookie")
        .to_owned();
    assert!(device_cookie.contains("Max-Age=34560000") && device_cookie.contains("HttpOnly"));
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

/// Signs `browser` in as alice from `ip`, as a trusted proxy would pass it on.
async fn sign_in_from(browser: &Browser, ip: &str) {
    let csrf = browser.csrf("/sign-in").await;
    let response = browser
        .client
        .post(format!("{}/sign-in", browser.base))
        .header("x-forwarded-for", ip)
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", ALICE),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "sign-in from {ip}"
    );
    browser.sign_out().await;
}

async fn a_new_network_is_reported_and_an_ipv6_64_counts_as_one(backend: Backend) {
    let sink = SmtpSink::start(free_port(), SinkSecurity::Plain, Some(RELAY_AUTH));
    let app = spawn_app_with(backend, |s| {
        relay(sink.port)(s);
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    app.add_user(ALICE, PASSWORD, false).await;
    let laptop = app.browser();
    sign_in_from(&laptop, "198.51.100.7").await;
    sign_in_from(&laptop, "198.51.100.7").await;
    assert_eq!(
        queued(&app, "new_sign_in").await,
        0,
        "first sign-in, then the same network"
    );
    sign_in_from(&laptop, "203.0.113.9").await;
    assert_eq!(queued(&app, "new_sign_in").await, 1, "a new address");
    sign_in_from(&laptop, "2001:db8:1:2::5").await;
    sign_in_from(&laptop, "2001:db8:1:2:aaaa::99").await;
    assert_eq!(
        queued(&app, "new_sign_in").await,
        2,
        "one IPv6 /64, one network"
    );

    let mails = sink.wait_for(2).await;
    let texts: Vec<String> = mails.iter().map(Received::decoded).collect();
    assert!(texts
        .iter()
        .all(|t| t.contains("from a network that had not been used")));
    assert!(texts.iter().any(|t| t.contains("From:    203.0.113.9")));
    assert!(texts.iter().any(|t| t.contains("From:    2001:db8:1:2::5")));
    assert_clean(&mails, ALICE, &[PASSWORD]);
}
both_backends!(a_new_network_is_reported_and_an_ipv6_64_counts_as_one);

async fn a_lock_started_by_wrong_current_passwords_is_reported(backend: Backend) {
    let (app, _sink) = app_and_sink(backend).await;
    let alice = app.signed_in(ALICE).await;
    let wrong = "not my password 5678";
    for _ in 0..FREE_FAILURES {
        let response = alice
            .change_password(wrong, NEW_PASSWORD, NEW_PASSWORD, false)
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(queued(&app, "account_locked").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM notice_queue").await, 1);
}
both_backends!(a_lock_started_by_wrong_current_passwords_is_reported);

/// With a second factor, a sign-in is complete (and a new browser noticed) only after the
/// code; adding the authenticator app, and an admin's reset, are reported.
async fn with_a_second_factor_the_new_browser_is_reported_after_the_code(backend: Backend) {
    use crate::second_factor::{code_at, enrol_totp, give_code, sign_in_pending};
    let (app, _sink) = app_and_sink(backend).await;
    app.add_user(ALICE, PASSWORD, false).await;
    let laptop = app.browser();
    assert_eq!(
        laptop.sign_in_status(ALICE, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    let enrolled = enrol_totp(&app, &laptop).await;
    assert_eq!(queued(&app, "second_factor_added").await, 1);

    let phone = app.browser();
    sign_in_pending(&phone).await;
    assert_eq!(queued(&app, "new_sign_in").await, 0, "not signed in yet");
    let code = code_at(&enrolled.secret, app.clock_now());
    assert_eq!(give_code(&phone, &code).await, StatusCode::SEE_OTHER);
    assert_eq!(
        queued(&app, "new_sign_in").await,
        1,
        "a new browser, after the code"
    );

    // An admin's reset of the factors is reported to the owner too.
    let admin = app.signed_in_admin().await;
    let alice_id = app.user_id(ALICE).await;
    let reset = format!("/admin/users/{alice_id}/second-factor/reset");
    let done = admin.post(&reset, &reset, &[]).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(queued(&app, "second_factors_reset").await, 1);
}
both_backends!(with_a_second_factor_the_new_browser_is_reported_after_the_code);
