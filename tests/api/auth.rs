//! First-admin setup, signing in and out, and session lifetimes.

use mailkeys::startup::setup_link_if_needed;
use reqwest::StatusCode;

use crate::both_backends;
use mailkeys_test_support::prelude::*;

async fn setup_link_creates_the_first_admin_exactly_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let link = setup_link_if_needed(&app.state)
        .await
        .unwrap()
        .expect("no admin yet, so a link");
    let path = &link[link.find("/setup/").unwrap()..];

    let browser = app.browser();
    let form = browser.get(path).await;
    assert_eq!(form.status(), StatusCode::OK);
    let response = browser
        .post(
            path,
            path,
            &[
                ("email", "Root@Example.org"),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(browser
        .get_text("/")
        .await
        .contains("root@example.org (admin)"));

    let again = app.browser();
    assert_eq!(
        again.get(path).await.status(),
        StatusCode::GONE,
        "a used link is refused"
    );
    let user_id = app.user_id("root@example.org").await;
    assert_eq!(app.audit_events(user_id).await, ["setup_completed"]);
    assert!(
        setup_link_if_needed(&app.state).await.unwrap().is_none(),
        "an admin exists now"
    );
}
both_backends!(setup_link_creates_the_first_admin_exactly_once);

async fn an_expired_setup_link_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let link = setup_link_if_needed(&app.state).await.unwrap().unwrap();
    let path = &link[link.find("/setup/").unwrap()..];
    app.clock.advance(app.settings.setup_link_ttl_secs + 1);
    assert_eq!(app.browser().get(path).await.status(), StatusCode::GONE);
}
both_backends!(an_expired_setup_link_is_refused);

async fn setup_refuses_a_weak_password_and_keeps_the_email(backend: Backend) {
    let app = spawn_app(backend).await;
    let link = setup_link_if_needed(&app.state).await.unwrap().unwrap();
    let path = &link[link.find("/setup/").unwrap()..];
    let browser = app.browser();
    let response = browser
        .post(
            path,
            path,
            &[
                ("email", "root@example.org"),
                ("password", "password1234"),
                ("confirm", "password1234"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert!(page.contains("too common"));
    assert!(page.contains(r#"value="root@example.org""#));
    assert!(
        !page.contains("password1234"),
        "a password is never echoed back"
    );
    assert_eq!(
        browser.get(path).await.status(),
        StatusCode::OK,
        "the link still works"
    );
}
both_backends!(setup_refuses_a_weak_password_and_keeps_the_email);

async fn a_user_signs_in_and_out(backend: Backend) {
    let app = spawn_app(backend).await;
    let user_id = app.add_user(ALICE, PASSWORD, false).await;
    let browser = app.browser();
    assert_eq!(
        location(&browser.get("/").await),
        "/sign-in",
        "visitors are sent to sign in"
    );

    let response = browser.sign_in("ALICE@example.org", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(browser.get_status("/").await, StatusCode::OK);

    assert_eq!(browser.sign_out().await.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&browser.get("/").await), "/sign-in");
    let sessions = app.count("SELECT COUNT(*) FROM sessions").await;
    assert_eq!(sessions, 0, "sign-out deletes the session");
    assert_eq!(app.audit_events(user_id).await, ["sign_in", "sign_out"]);
}
both_backends!(a_user_signs_in_and_out);

async fn a_wrong_password_and_an_unknown_user_get_the_same_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let user_id = app.add_user(ALICE, PASSWORD, false).await;
    let browser = app.browser();
    let wrong = browser.sign_in(ALICE, "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let wrong_page = wrong.text().await.unwrap();
    assert!(wrong_page.contains("The email address or password is incorrect."));
    assert!(
        wrong_page.contains(r#"value="alice@example.org""#),
        "the email is kept"
    );
    assert!(!wrong_page.contains("not the password"));

    let unknown = browser
        .sign_in("nobody@example.org", "not the password")
        .await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let unknown_page = unknown.text().await.unwrap();
    assert_eq!(
        wrong_page.replace(ALICE, "X"),
        unknown_page.replace("nobody@example.org", "X"),
        "nothing tells an unknown account from a wrong password"
    );
    assert_eq!(app.audit_events(user_id).await, ["sign_in_failed"]);
    assert_eq!(location(&browser.get("/").await), "/sign-in");
}
both_backends!(a_wrong_password_and_an_unknown_user_get_the_same_answer);

async fn a_disabled_user_cannot_sign_in_and_is_signed_out(backend: Backend) {
    let (app, browser) = app_with_alice(backend).await;
    sqlx::query("UPDATE users SET disabled = TRUE")
        .execute(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(
        location(&browser.get("/").await),
        "/sign-in?ended=true",
        "the session ended"
    );
    assert_eq!(
        browser.sign_in_status(ALICE, PASSWORD).await,
        StatusCode::UNAUTHORIZED
    );
}
both_backends!(a_disabled_user_cannot_sign_in_and_is_signed_out);

async fn a_session_ends_after_idle_and_absolute_timeouts(backend: Backend) {
    let app = spawn_app(backend).await;
    let idle = app.signed_in("idle@example.org").await;
    app.clock
        .advance(app.settings.session_idle_timeout_secs + 1);
    assert_eq!(
        location(&idle.get("/").await),
        "/sign-in?ended=true",
        "idle too long"
    );

    let busy = app.signed_in("busy@example.org").await;
    let step = app.settings.session_idle_timeout_secs / 2;
    let mut elapsed = 0;
    while elapsed + step <= app.settings.session_absolute_timeout_secs {
        app.clock.advance(step);
        elapsed += step;
        busy.assert_status("/", StatusCode::OK, "active at {elapsed}s")
            .await;
    }
    app.clock.advance(step);
    assert_eq!(
        location(&busy.get("/").await),
        "/sign-in?ended=true",
        "absolute lifetime reached"
    );
}
both_backends!(a_session_ends_after_idle_and_absolute_timeouts);

async fn signing_in_issues_a_new_session_id(backend: Backend) {
    let (app, browser) = app_with_alice_signed_out(backend).await;
    // A planted cookie is never adopted: sign-in always creates a fresh session.
    let planted = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser.get_text("/sign-in").await;
    let csrf = csrf_in(&page);
    let response = planted
        .post(app.url("/sign-in"))
        .header(
            "cookie",
            format!("mailkeys-csrf={csrf}; mailkeys-session=attacker-chosen"),
        )
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", ALICE),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let set_cookie: Vec<_> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = set_cookie
        .iter()
        .find(|c| c.starts_with("mailkeys-session="))
        .expect("a session cookie");
    assert!(!session.contains("attacker-chosen"));
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict"),
        "{session}"
    );
}
both_backends!(signing_in_issues_a_new_session_id);

async fn repeated_failures_lock_the_address_without_hashing_and_the_lock_expires(backend: Backend) {
    let (app, browser) = app_with_alice_signed_out(backend).await;
    for _ in 0..mailkeys::domain::lockout::FREE_FAILURES {
        assert_eq!(
            browser.sign_in(ALICE, "wrong").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let hashed_before = app.state.hasher.verifications();
    let locked = browser.sign_in(ALICE, PASSWORD).await;
    assert_eq!(
        locked.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(locked
        .text()
        .await
        .unwrap()
        .contains("Mail apps using app passwords keep working"));
    assert_eq!(
        app.state.hasher.verifications(),
        hashed_before,
        "a locked attempt runs no argon2"
    );

    // The same policy applies to an address with no account: a lock reveals nothing.
    for _ in 0..mailkeys::domain::lockout::FREE_FAILURES {
        browser.sign_in("nobody@example.org", "wrong").await;
    }
    assert_eq!(
        browser
            .sign_in("nobody@example.org", "wrong")
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    app.clock.advance(31);
    assert_eq!(
        browser.sign_in_status(ALICE, PASSWORD).await,
        StatusCode::SEE_OTHER,
        "lock expired"
    );
    let failures: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM attempt_throttle WHERE key_hash = $1")
            .bind(app.state.attempt_keys.account(ALICE))
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(failures, 0, "success clears the count");
}
both_backends!(repeated_failures_lock_the_address_without_hashing_and_the_lock_expires);

async fn one_ip_is_limited_and_a_forged_forwarded_header_does_not_help(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.sign_in_per_ip_per_minute = 3).await;
    let browser = app.browser();
    let csrf = csrf_in(&browser.get_text("/sign-in").await);
    for n in 0..4 {
        let response = browser
            .client
            .post(app.url("/sign-in"))
            .header("x-forwarded-for", format!("198.51.100.{n}"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", &format!("user{n}@example.org")),
                ("password", "wrong"),
            ])
            .send()
            .await
            .unwrap();
        let expected = if n < 3 {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(response.status(), expected, "attempt {n}");
    }
}
both_backends!(one_ip_is_limited_and_a_forged_forwarded_header_does_not_help);

async fn an_older_setup_link_dies_once_an_admin_exists(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = setup_link_if_needed(&app.state).await.unwrap().unwrap();
    let second = setup_link_if_needed(&app.state).await.unwrap().unwrap();
    let path = |link: &str| link[link.find("/setup/").unwrap()..].to_owned();
    let browser = app.browser();
    let response = browser
        .post(
            &path(&second),
            &path(&second),
            &[
                ("email", "root@example.org"),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.browser().get(&path(&first)).await.status(),
        StatusCode::GONE
    );
}
both_backends!(an_older_setup_link_dies_once_an_admin_exists);

async fn signing_out_everywhere_ends_every_browser_session(backend: Backend) {
    let (app, laptop) = app_with_alice(backend).await;
    let phone = app.browser();
    phone.sign_in(ALICE, PASSWORD).await;
    let response = phone.post("/account", "/sign-out-everywhere", &[]).await;
    assert_eq!(location(&response), "/sign-in");
    assert_eq!(location(&laptop.get("/").await), "/sign-in?ended=true");
    assert_eq!(location(&phone.get("/").await), "/sign-in");
}
both_backends!(signing_out_everywhere_ends_every_browser_session);
