//! CSRF, security headers, cookies and error pages.

use reqwest::StatusCode;

use crate::both_backends;
use mailkeys_test_support::prelude::*;

fn assert_security_headers(response: &reqwest::Response) {
    let h = response.headers();
    let csp = h
        .get("content-security-policy")
        .expect("CSP")
        .to_str()
        .unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'")
            && csp.contains("script-src 'self'")
            && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
    assert_eq!(h.get("referrer-policy").unwrap(), "no-referrer");
    assert_eq!(h.get("x-frame-options").unwrap(), "DENY");
}

async fn state_changes_without_a_valid_csrf_token_are_refused(backend: Backend) {
    let (app, browser) = app_with_alice(backend).await;
    for (path, form) in [
        ("/app-passwords", vec![("name", "Phone")]),
        ("/app-passwords/revoke-all", vec![]),
        ("/account/imap", vec![("allowed", "yes")]),
        (
            "/account/password",
            vec![
                ("current", PASSWORD),
                ("new", NEW_PASSWORD),
                ("confirm", NEW_PASSWORD),
            ],
        ),
        ("/sign-out", vec![]),
    ] {
        let missing = browser.post_raw(path, &form).await;
        assert_eq!(
            missing.status(),
            StatusCode::FORBIDDEN,
            "{path} without a token"
        );
        assert_security_headers(&missing);
        let mut forged = form.clone();
        forged.push(("csrf", "forged"));
        assert_eq!(
            browser.post_raw(path, &forged).await.status(),
            StatusCode::FORBIDDEN,
            "{path} with a forged token"
        );
    }
    let count = app.count("SELECT COUNT(*) FROM app_passwords").await;
    assert_eq!(count, 0);
    browser
        .assert_status("/", StatusCode::OK, "still signed in")
        .await;
    assert_eq!(
        app.browser().sign_in_status(ALICE, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
}
both_backends!(state_changes_without_a_valid_csrf_token_are_refused);

async fn sign_in_without_the_form_cookie_is_refused(backend: Backend) {
    let (_app, browser) = app_with_alice_signed_out(backend).await;
    let response = browser
        .post_raw(
            "/sign-in",
            &[("csrf", "guess"), ("email", ALICE), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}
both_backends!(sign_in_without_the_form_cookie_is_refused);

async fn a_get_request_never_changes_state(backend: Backend) {
    let (app, browser) = app_with_alice(backend).await;
    let (_, id) = app.new_app_password(&browser, "Phone").await;
    for path in [
        format!("/app-passwords/{id}/revoke"),
        "/app-passwords/revoke-all".to_owned(),
        "/sign-out".to_owned(),
    ] {
        browser.get(&path).await;
    }
    let live = app.live_app_passwords().await;
    assert_eq!(live, 1);
    browser
        .assert_status("/", StatusCode::OK, "GET /sign-out does not sign out")
        .await;
}
both_backends!(a_get_request_never_changes_state);

async fn every_response_carries_security_headers_including_404_and_500(backend: Backend) {
    let (app, browser) = app_with_alice(backend).await;
    let page = browser.get("/").await;
    assert_security_headers(&page);
    assert_eq!(page.headers().get("cache-control").unwrap(), "no-store");
    assert!(
        page.headers().get("strict-transport-security").is_none(),
        "no HSTS over plain http"
    );
    // Static files may be kept, but revalidated; they carry the other headers too.
    let script = browser.get("/static/app.js").await;
    assert_eq!(script.status(), StatusCode::OK);
    assert_security_headers(&script);
    assert_eq!(script.headers().get("cache-control").unwrap(), "no-cache");

    let missing = browser.get("/no/such/page").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_security_headers(&missing);

    // Break the database under the running app: the dashboard query now fails.
    sqlx::query("DROP VIEW dovecot_app_passwords")
        .execute(&app.db.pool)
        .await
        .unwrap();
    sqlx::query("DROP VIEW dovecot_lookup_ids")
        .execute(&app.db.pool)
        .await
        .unwrap();
    sqlx::query("ALTER TABLE app_passwords RENAME TO app_passwords_gone")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let broken = browser.get("/").await;
    assert_eq!(broken.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_security_headers(&broken);
    let body = broken.text().await.unwrap();
    assert!(body.contains("Something went wrong on our side"));
    assert!(
        !body.to_lowercase().contains("app_passwords") && !body.contains("sqlx"),
        "no internals: {body}"
    );
}
both_backends!(every_response_carries_security_headers_including_404_and_500);

async fn https_deployments_get_host_prefixed_secure_cookies_and_hsts(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.public_url = Some("https://mail.example.org".parse().unwrap())
    })
    .await;
    let response = app.browser().get("/sign-in").await;
    assert!(response
        .headers()
        .get("strict-transport-security")
        .is_some());
    let cookie = response
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        cookie.starts_with("__Host-mailkeys-csrf=")
            && cookie.contains("Secure")
            && cookie.contains("Path=/"),
        "{cookie}"
    );
}
both_backends!(https_deployments_get_host_prefixed_secure_cookies_and_hsts);

async fn an_oversized_body_is_refused_with_413(backend: Backend) {
    let (app, browser) = app_with_alice(backend).await;
    let huge = "x".repeat(app.settings.max_body_bytes + 1);
    let response = browser
        .post("/", "/app-passwords", &[("name", &huge)])
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_security_headers(&response);
}
both_backends!(an_oversized_body_is_refused_with_413);
