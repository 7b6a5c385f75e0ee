//! The Dovecot policy listener's guards: start-up refuses a non-loopback address (unless
//! allowed) and a short secret; the secret is checked before a byte of body is read; bodies
//! are small; wrong secrets are limited per source address.

use std::time::Duration;

use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::both_backends;
use mailkeys_test_support::prelude::*;

const SECRET: &str = "guard-test-policy-secret-0123456789";
const WRONG: &str = "not-the-policy-secret-0123456789abc";

async fn app_with_policy(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| {
        s.policy_listen = Some("127.0.0.1:0".parse().unwrap());
        s.policy_secret = Some(SecretString::from(SECRET));
    })
    .await
}

fn url(app: &TestApp) -> String {
    format!(
        "http://{}{}",
        app.policy_addr.unwrap(),
        mailkeys::dovecot::policy::PATH
    )
}

/// Posts `body` from the source address `from` with the header `secret`.
async fn post_from(
    app: &TestApp,
    from: &str,
    secret: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .local_address(Some(from.parse().unwrap()))
        .build()
        .unwrap();
    let mut request = client
        .post(url(app))
        .header("content-type", "application/json")
        .body(body);
    if let Some(secret) = secret {
        request = request.header("X-Mailkeys-Policy-Secret", secret);
    }
    request.send().await.unwrap()
}

async fn post(
    app: &TestApp,
    secret: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    post_from(app, "127.0.0.1", secret, body).await
}

fn a_report() -> String {
    json!({"user": ALICE, "remote": "192.0.2.7", "protocol": "imap", "success": false}).to_string()
}

async fn start_up_refuses_a_public_address_and_a_short_secret(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database_url(backend, dir.path()).await;
    let with = |listen: &str, secret: &str, allow: bool| {
        let mut settings = test_settings(&database_url);
        settings.policy_listen = Some(listen.parse().unwrap());
        settings.policy_secret = Some(SecretString::from(secret));
        settings.policy_allow_remote = allow;
        settings
    };
    for listen in ["0.0.0.0:0", "[::]:0"] {
        let refused = mailkeys::startup::build(with(listen, SECRET, false))
            .await
            .err()
            .unwrap_or_else(|| panic!("{listen} was accepted"));
        assert!(
            refused.to_string().contains("is not a loopback address"),
            "{listen}: {refused}"
        );
    }
    let allowed = mailkeys::startup::build(with("0.0.0.0:0", SECRET, true)).await;
    assert!(allowed.is_ok(), "policy_allow_remote lets it listen");
    drop(allowed);
    let refused = mailkeys::startup::build(with("127.0.0.1:0", &SECRET[..31], false))
        .await
        .err()
        .expect("a 31-character secret is refused");
    assert!(
        refused
            .to_string()
            .contains("policy_secret must have at least 32 characters"),
        "{refused}"
    );
    assert!(
        mailkeys::startup::build(with("127.0.0.1:0", &SECRET[..32], false))
            .await
            .is_ok()
    );
}
both_backends!(start_up_refuses_a_public_address_and_a_short_secret);

async fn the_secret_is_checked_before_the_body_is_read(backend: Backend) {
    let app = app_with_policy(backend).await;
    // Not JSON, and over the body limit: a wrong or missing secret is all that is answered.
    let junk = vec![b'{'; 64 * 1024];
    assert_eq!(
        post(&app, Some(WRONG), junk.clone()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(&app, None, junk).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // A request that announces a megabyte and never sends it is answered at once.
    let mut stream = tokio::net::TcpStream::connect(app.policy_addr.unwrap())
        .await
        .unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: 1000000\r\nX-Mailkeys-Policy-Secret: {WRONG}\r\n\r\n",
        mailkeys::dovecot::policy::PATH
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
}
both_backends!(the_secret_is_checked_before_the_body_is_read);

async fn a_report_over_4_kib_is_refused(backend: Backend) {
    let (app, _browser) = app_with_policy(backend).await.and_alice().await;
    let big = json!({"user": ALICE, "remote": "192.0.2.7", "protocol": "imap", "success": false, "padding": "x".repeat(5000)});
    let response = post(&app, Some(SECRET), big.to_string()).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM imap_login_failures").await,
        0,
        "nothing of it was recorded"
    );
    // An ordinary report is well under the limit.
    assert!(a_report().len() < 1024);
    assert_eq!(
        post(&app, Some(SECRET), a_report()).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM imap_login_failures").await,
        1
    );
    // Malformed JSON with the right secret: a 400, not a server error.
    assert_eq!(
        post(&app, Some(SECRET), "{").await.status(),
        StatusCode::BAD_REQUEST
    );
}
both_backends!(a_report_over_4_kib_is_refused);

async fn wrong_secrets_are_limited_per_source_address(backend: Backend) {
    let (app, _browser) = app_with_policy(backend).await.and_alice().await;
    let limit = mailkeys::dovecot::policy_guard::WRONG_SECRETS_PER_MINUTE;
    for n in 0..limit {
        let status = post(&app, Some(WRONG), a_report()).await.status();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "wrong secret {n}");
    }
    assert_eq!(
        post(&app, Some(WRONG), a_report()).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Until the minute is over the address gets nothing more, body unread (not JSON here).
    assert_eq!(
        post(&app, Some(SECRET), "{").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM imap_login_failures").await,
        0
    );
    // Another address is not affected.
    let other = post_from(&app, "127.0.0.2", Some(SECRET), a_report()).await;
    assert_eq!(other.status(), StatusCode::OK);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM imap_login_failures").await,
        1
    );
}
both_backends!(wrong_secrets_are_limited_per_source_address);
