//! Operations: `/readyz` (database, schema, doveadm) and the Prometheus listener, scraped after
//! real traffic.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::json;

use crate::both_backends;
use mailkeys::dovecot::DovecotVersion;
use mailkeys::imap::{MailServer, TlsMode};
use mailkeys_test_support::fake_imap;
use mailkeys_test_support::prelude::*;

const POLICY_SECRET: &str = "operations-test-policy-secret-0123456789";
const DOVEADM_KEY: &str = "operations-test-doveadm-key-0123456789";

async fn readyz(app: &TestApp) -> (StatusCode, String) {
    let response = reqwest::get(app.url("/readyz")).await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// A stand-in for the doveadm HTTP API on loopback: its command list shows Dovecot 2.4, and
/// every command it is sent fails with HTTP 500.
async fn failing_doveadm() -> SocketAddr {
    use axum::http::StatusCode as Status;
    use axum::routing::get;
    let commands = json!([{"command": "kick", "parameters": [{"name": "passdbField"}]}]);
    let api = axum::Router::new().route(
        "/doveadm/v1",
        get(move || async move { axum::Json(commands) })
            .post(|| async { Status::INTERNAL_SERVER_ERROR }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, api).await });
    addr
}

fn doveadm_at(settings: &mut mailkeys::config::Settings, port: u16) {
    settings.doveadm_url = Some(format!("http://127.0.0.1:{port}").parse().unwrap());
    settings.doveadm_api_key = Some(SecretString::from(DOVEADM_KEY));
    settings.dovecot_version = Some(DovecotVersion::V2_4);
}

async fn ready_when_the_database_answers_and_the_schema_is_current(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(
        readyz(&app).await,
        (
            StatusCode::OK,
            "ready\ndatabase: ok\nschema: ok\n".to_owned()
        )
    );
}
both_backends!(ready_when_the_database_answers_and_the_schema_is_current);

async fn not_ready_while_a_migration_is_missing(backend: Backend) {
    let app = spawn_app(backend).await;
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        body,
        "not ready\ndatabase: ok\nschema: 1 migration(s) not applied: run `mailkeys migrate`\n"
    );
    let live = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(live.status(), StatusCode::OK, "liveness is not readiness");
    assert_eq!(live.text().await.unwrap(), "ok");
}
both_backends!(not_ready_while_a_migration_is_missing);

async fn not_ready_when_doveadm_is_configured_but_unreachable(backend: Backend) {
    let port = closed_port();
    let app = spawn_app_with(backend, |s| doveadm_at(s, port)).await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        body,
        "not ready\ndatabase: ok\nschema: ok\ndoveadm: unreachable\n"
    );
    assert!(!body.contains(DOVEADM_KEY) && !body.contains(&port.to_string()));

    // The same with an API that answers: ready, and the doveadm line says so. Requests
    // that come together share one call of the API (the start-up check made the other).
    let api = failing_doveadm().await;
    let app = spawn_app_with(backend, |s| doveadm_at(s, api.port())).await;
    wait_for_the_startup_probe(&app).await;
    let answers = tokio::join!(
        readyz(&app),
        readyz(&app),
        readyz(&app),
        readyz(&app),
        readyz(&app)
    );
    for answer in [answers.0, answers.1, answers.2, answers.3, answers.4] {
        assert_eq!(
            answer,
            (
                StatusCode::OK,
                "ready\ndatabase: ok\nschema: ok\ndoveadm: ok\n".to_owned()
            )
        );
    }
    let text = app.state.metrics.render().unwrap();
    assert_eq!(
        value(&text, "mailkeys_doveadm_calls_total{command=\"list\"}"),
        2.0
    );
}

async fn wait_for_the_startup_probe(app: &TestApp) {
    for _ in 0..100 {
        if app.state.dovecot_status.last_probe().is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the start-up check of the doveadm API never ended");
}
both_backends!(not_ready_when_doveadm_is_configured_but_unreachable);

/// SQLite cannot be taken away from a running instance reliably (its open files keep
/// working, and the tests run as root, whom permissions do not stop); PostgreSQL can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_when_the_postgres_database_is_gone() {
    use sqlx::Connection;
    let app = spawn_app(Backend::Postgres).await;
    assert_eq!(readyz(&app).await.0, StatusCode::OK);
    let name = app.database_url.rsplit('/').next().unwrap().to_owned();
    let mut admin = sqlx::PgConnection::connect(&postgres_admin_url())
        .await
        .unwrap();
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        body,
        "not ready\ndatabase: query failed\nschema: query failed\n"
    );
    assert!(!body.contains(&name), "no detail in the public answer");
}

/// The value of the series `series` (name and labels exactly as exposed) in `text`.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no series {series} in:\n{text}"))
        .parse()
        .unwrap()
}

async fn scrape(addr: SocketAddr) -> String {
    let response = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    response.text().await.unwrap()
}

async fn metrics_count_real_traffic(backend: Backend) {
    let imap = fake_imap::serve(
        fake_imap::Script::login_reply("NO [AUTHENTICATIONFAILED] Authentication failed."),
        None,
    )
    .await;
    let doveadm = failing_doveadm().await;
    let app = spawn_app_with(backend, |s| {
        s.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        s.policy_listen = Some("127.0.0.1:0".parse().unwrap());
        s.policy_secret = Some(SecretString::from(POLICY_SECRET));
        s.mail_servers = vec![MailServer {
            name: "Fake".into(),
            host: "127.0.0.1".into(),
            port: imap.port(),
            tls: TlsMode::None,
            ca_file: None,
        }];
        doveadm_at(s, doveadm.port());
    })
    .await;
    let metrics = app.metrics_addr.expect("a metrics listener");
    // The start-up check of the doveadm API is one call of its command list.
    wait_for_the_startup_probe(&app).await;

    // Sign-ins: one success, then wrong passwords for another address (no account: counted
    // the same) up to the lock, then one refused as locked. Alice's own count stays clear
    // for her connection test, whose main-password check it shares.
    let alice = app.signed_in(ALICE).await;
    let target = "bob@example.org";
    let free = mailkeys::domain::lockout::FREE_FAILURES;
    let stranger = app.browser();
    for _ in 0..free {
        assert_eq!(
            stranger.sign_in_status(target, "not-the-password").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        stranger.sign_in_status(target, "not-the-password").await,
        StatusCode::TOO_MANY_REQUESTS
    );

    // A connection test against the fake IMAP server, which refuses the password.
    let token = alice
        .get("/api/me")
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let report: serde_json::Value = alice
        .client
        .post(format!("{}/api/check", alice.base))
        .header("x-csrf-token", token)
        .json(&json!({"server": "Fake", "password": "typed-in-the-check"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let verdict = report["verdict"]["kind"].as_str().unwrap().to_owned();
    assert_eq!(verdict, "not_this_accounts_password", "{report}");

    // A revocation asks doveadm to kick, which fails.
    let (_, id) = app.new_app_password(&alice, "Phone").await;
    alice.revoke(id, "lost").await;

    // Policy reports: one with the right secret, one with a wrong one.
    for secret in [POLICY_SECRET, "a-wrong-secret-of-forty-characters-000000"] {
        reqwest::Client::new()
            .post(format!("http://{}/dovecot/auth-policy?command=report", app.policy_addr.unwrap()))
            .header("X-Mailkeys-Policy-Secret", secret)
            .json(&json!({"user": ALICE, "remote": "192.0.2.7", "protocol": "imap", "success": false}))
            .send()
            .await
            .unwrap();
    }

    let text = scrape(metrics).await;
    for (series, expected) in [
        ("mailkeys_web_sign_ins_total{outcome=\"success\"}", 1.0),
        (
            "mailkeys_web_sign_ins_total{outcome=\"refused\"}",
            free as f64,
        ),
        ("mailkeys_web_sign_ins_total{outcome=\"locked\"}", 1.0),
        ("mailkeys_sign_in_locks_total", 1.0),
        (
            &format!("mailkeys_connection_tests_total{{verdict=\"{verdict}\"}}"),
            1.0,
        ),
        ("mailkeys_doveadm_calls_total{command=\"list\"}", 1.0),
        ("mailkeys_doveadm_failures_total{command=\"list\"}", 0.0),
        ("mailkeys_doveadm_calls_total{command=\"kick\"}", 1.0),
        ("mailkeys_doveadm_failures_total{command=\"kick\"}", 1.0),
        (
            "mailkeys_doveadm_calls_total{command=\"authCacheFlush\"}",
            0.0,
        ),
        ("mailkeys_policy_reports_total{outcome=\"accepted\"}", 1.0),
        ("mailkeys_policy_reports_total{outcome=\"refused\"}", 1.0),
        ("mailkeys_hash_queue_depth", 0.0),
    ] {
        assert_eq!(value(&text, series), expected, "{series} in:\n{text}");
    }
    // Every hash waited in the queue and was timed: the verifications (sign-ins, the check's
    // main-password check) and the app password's hash.
    let verifications = app.state.hasher.verifications() as f64;
    assert!(verifications >= free as f64 + 2.0);
    assert!(value(&text, "mailkeys_hash_queue_wait_seconds_count") >= verifications + 1.0);
    assert!(value(&text, "mailkeys_hash_queue_wait_seconds_sum") > 0.0);
    for private in [
        ALICE,
        target,
        PASSWORD,
        "not-the-password",
        "typed-in-the-check",
        POLICY_SECRET,
    ] {
        assert!(!text.contains(private), "{private} in the metrics");
    }

    // The series are on their own listener only, and nothing else is there.
    assert_eq!(
        reqwest::get(app.url("/metrics")).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let other = reqwest::get(format!("http://{metrics}/")).await.unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}
both_backends!(metrics_count_real_traffic);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_listener_off_loopback_needs_the_explicit_setting() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("mailkeys.db").display());
    let mut settings = test_settings(&url);
    settings.metrics_listen = Some("0.0.0.0:0".parse().unwrap());
    let refused = mailkeys::startup::build(settings.clone())
        .await
        .err()
        .unwrap();
    assert!(
        refused
            .to_string()
            .contains("metrics_listen 0.0.0.0:0 is not a loopback address"),
        "{refused:#}"
    );

    settings.metrics_allow_non_loopback = true;
    let app = spawn_app_on(dir, url, |s| *s = settings).await;
    let port = app.metrics_addr.unwrap().port();
    let text = scrape(SocketAddr::from(([127, 0, 0, 1], port))).await;
    assert_eq!(
        value(&text, "mailkeys_web_sign_ins_total{outcome=\"success\"}"),
        0.0
    );
    assert!(text.ends_with("# EOF\n"));
}
