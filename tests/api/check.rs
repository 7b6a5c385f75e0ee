//! The connection test as a user drives it: form, stream and JSON, limits and audit.
//! The step-by-step IMAP behaviour against real Dovecot lives in `check_dovecot`.

use reqwest::StatusCode;

use crate::both_backends;
use mailkeys_test_support::prelude::*;

/// An app whose one mail server, Nowhere, refuses every connection.
async fn app_with_nowhere(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| s.mail_servers = vec![nowhere()]).await
}

/// Posts the check form (from /check) to `path`, testing `password` on the first server.
async fn check_on_first_server(browser: &Browser, path: &str, password: &str) -> reqwest::Response {
    let form = [("server", "0"), ("password", password)];
    browser.post("/check", path, &form).await
}

/// Posts `body` to /api/check as JSON, with the CSRF header when `token` is given.
async fn api_check(
    browser: &Browser,
    token: Option<&str>,
    body: serde_json::Value,
) -> reqwest::Response {
    let mut request = browser.client.post(format!("{}/api/check", browser.base));
    if let Some(token) = token {
        request = request.header("x-csrf-token", token);
    }
    request.json(&body).send().await.unwrap()
}

async fn the_form_runs_a_check_and_shows_the_verdict(backend: Backend) {
    let (app, browser) = app_with_nowhere(backend).await.and_alice().await;
    let page = browser.get_text("/check").await;
    assert!(page.contains("Nowhere (127.0.0.1:"));
    let response = check_on_first_server(&browser, "/check", "hunter2-secret").await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(page.to_lowercase().contains("refused"), "{page}");
    assert!(page.contains("The password was never sent."), "{page}");
    assert!(!page.contains("hunter2-secret"));
    app.assert_audited(ALICE, "connection_test").await;
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE event = 'connection_test'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(!detail.contains("hunter2"));
}
both_backends!(the_form_runs_a_check_and_shows_the_verdict);

async fn the_stream_sends_each_step_then_the_result(backend: Backend) {
    let (_app, browser) = app_with_nowhere(backend).await.and_alice().await;
    let response = check_on_first_server(&browser, "/check/stream", "x").await;
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/x-ndjson"
    );
    let body = response.text().await.unwrap();
    let events: Vec<serde_json::Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.first().unwrap()["event"], "started");
    let last = events.last().unwrap();
    assert_eq!(last["event"], "result");
    assert_eq!(last["report"]["verdict"]["kind"], "connection_refused");
    assert_eq!(last["report"]["proven"]["kind"], "password_never_sent");
    assert!(last["html"].as_str().unwrap().contains("check-result"));
}
both_backends!(the_stream_sends_each_step_then_the_result);

async fn the_json_endpoint_serves_scripts(backend: Backend) {
    let (app, browser) = app_with_nowhere(backend).await.and_alice().await;
    let me: serde_json::Value = browser.get("/api/me").await.json().await.unwrap();
    assert_eq!(me["email"], ALICE);
    let token = me["csrf_token"].as_str().unwrap();
    let response = api_check(
        &browser,
        Some(token),
        serde_json::json!({"server": "Nowhere", "password": "x"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let report: serde_json::Value = response.json().await.unwrap();
    assert_eq!(report["verdict"]["kind"], "connection_refused");
    assert_eq!(report["verdict"]["success"], false);
    assert_eq!(report["proven"]["kind"], "password_never_sent");
    assert_eq!(report["proven"]["text"], "The password was never sent.");

    let unknown = api_check(
        &browser,
        Some(token),
        serde_json::json!({"server": "elsewhere.example", "password": "x"}),
    )
    .await;
    assert_eq!(
        unknown.status(),
        StatusCode::NOT_FOUND,
        "only configured servers"
    );
    let stranger = app.browser();
    stranger
        .assert_status(
            "/api/me",
            StatusCode::UNAUTHORIZED,
            "scripts get a 401, not a redirect",
        )
        .await;
    let forged = api_check(&browser, None, serde_json::json!({"password": "x"})).await;
    assert_eq!(
        forged.status(),
        StatusCode::FORBIDDEN,
        "the CSRF header is required"
    );
}
both_backends!(the_json_endpoint_serves_scripts);

/// Errors under /api/ are RFC 9457 problem details, with the status and message the page
/// would show; elsewhere they stay HTML pages.
async fn api_errors_are_json_problem_details(backend: Backend) {
    let app = app_with_nowhere(backend).await;
    let problem = |response: reqwest::Response| async move {
        let status = response.status();
        let kind = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            response.headers().contains_key("content-security-policy"),
            "security headers stay"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        (status, kind, body)
    };
    let (status, kind, body) = problem(app.browser().get("/api/me").await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(kind, "application/problem+json");
    assert_eq!(body["status"], 401);
    assert_eq!(body["title"], "Unauthorized");
    assert!(
        body["detail"].as_str().unwrap().contains("X-CSRF-Token"),
        "{body}"
    );

    let browser = app.signed_in(ALICE).await;
    let forged = api_check(&browser, None, serde_json::json!({"password": "x"})).await;
    let (status, kind, body) = problem(forged).await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::FORBIDDEN, "application/problem+json")
    );
    assert_eq!(body["status"], 403);
    let missing = problem(browser.get("/api/nothing-here").await).await;
    assert_eq!(missing.0, StatusCode::NOT_FOUND);
    assert_eq!(missing.2["status"], 404);

    let page = browser.get("/nothing-here").await;
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
}
both_backends!(api_errors_are_json_problem_details);

async fn checks_are_limited_per_user(backend: Backend) {
    let (app, browser) = app_with_nowhere(backend).await.and_alice().await;
    for n in 0..app.settings.checks_per_minute {
        let response = browser
            .post("/check", "/check", &[("server", "0"), ("password", "x")])
            .await;
        assert_eq!(response.status(), StatusCode::OK, "check {n}");
    }
    let refused = browser
        .post("/check", "/check", &[("server", "0"), ("password", "x")])
        .await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another user on the same address is limited by the per-IP quota too.
    let bob = app.signed_in("bob@example.org").await;
    let refused = bob
        .post("/check", "/check", &[("server", "0"), ("password", "x")])
        .await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
}
both_backends!(checks_are_limited_per_user);

async fn a_server_index_outside_the_configuration_is_refused(backend: Backend) {
    let (_app, browser) = app_with_nowhere(backend).await.and_alice().await;
    let response = browser
        .post("/check", "/check", &[("server", "7"), ("password", "x")])
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
both_backends!(a_server_index_outside_the_configuration_is_refused);
