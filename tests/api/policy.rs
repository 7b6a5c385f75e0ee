//! The Dovecot auth-policy listener, driven by hand-made reports (the real Dovecot drives it
//! in the `dovecot` tests).

use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::json;

use crate::both_backends;
use mailkeys_test_support::prelude::*;

const SECRET: &str = "policy-test-secret-0123456789abcdef";

async fn app_with_policy(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| {
        s.policy_listen = Some("127.0.0.1:0".parse().unwrap());
        s.policy_secret = Some(SecretString::from(SECRET));
    })
    .await
}

async fn report(app: &TestApp, secret: Option<&str>, body: serde_json::Value) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!(
            "http://{}/dovecot/auth-policy?command=report",
            app.policy_addr.unwrap()
        ))
        .json(&body);
    if let Some(secret) = secret {
        request = request.header("X-Mailkeys-Policy-Secret", secret);
    }
    request.send().await.unwrap()
}

/// When the (only) app password was last used, as stored.
async fn last_used_at(app: &TestApp) -> Option<i64> {
    sqlx::query_scalar("SELECT last_used_at FROM app_passwords")
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

async fn a_successful_login_report_records_last_use(backend: Backend) {
    let (app, browser) = app_with_policy(backend).await.and_alice().await;
    let (_, id) = app.new_app_password(&browser, "Phone").await;

    let body = json!({"login": ALICE, "user": ALICE, "remote": "192.0.2.7", "protocol": "imap", "credential_id": id.to_string(), "success": true});
    let response = report(&app, Some(SECRET), body).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        json!({"status": 0, "msg": ""})
    );
    let (at, ip, protocol): (Option<i64>, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT last_used_at, last_used_ip, last_used_protocol FROM app_passwords WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(at, Some(app.clock_now()));
    assert_eq!(ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(protocol.as_deref(), Some("imap"));
    assert!(browser
        .get_text("/")
        .await
        .contains("from 192.0.2.7 (imap)"));
}
both_backends!(a_successful_login_report_records_last_use);

async fn reports_without_the_secret_are_refused_and_change_nothing(backend: Backend) {
    let (app, browser) = app_with_policy(backend).await.and_alice().await;
    let (_, id) = app.new_app_password(&browser, "Phone").await;
    let body = json!({"user": ALICE, "remote": "192.0.2.7", "protocol": "imap", "credential_id": id.to_string(), "success": true});
    assert_eq!(
        report(&app, None, body.clone()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        report(&app, Some("wrong"), body).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(last_used_at(&app).await, None);
}
both_backends!(reports_without_the_secret_are_refused_and_change_nothing);

async fn a_report_cannot_touch_another_users_password(backend: Backend) {
    let (app, alice) = app_with_policy(backend).await.and_alice().await;
    let (_, id) = app.new_app_password(&alice, "Phone").await;
    let body = json!({"user": "mallory@example.org", "remote": "192.0.2.7", "protocol": "imap", "credential_id": id.to_string(), "success": true});
    report(&app, Some(SECRET), body).await;
    assert_eq!(last_used_at(&app).await, None);
}
both_backends!(a_report_cannot_touch_another_users_password);

async fn failed_logins_are_counted_per_user_and_address(backend: Backend) {
    let (app, browser) = app_with_policy(backend).await.and_alice().await;
    for _ in 0..3 {
        report(&app, Some(SECRET), json!({"user": ALICE, "remote": "203.0.113.5", "protocol": "imap", "credential_id": "", "success": false})).await;
    }
    let failures: i64 = sqlx::query_scalar("SELECT failures FROM imap_login_failures WHERE username = 'alice@example.org' AND ip = '203.0.113.5'").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(failures, 3);
    let account = browser.get_text("/account").await;
    assert!(account.contains("Failed mail sign-ins") && account.contains("203.0.113.5"));
}
both_backends!(failed_logins_are_counted_per_user_and_address);
