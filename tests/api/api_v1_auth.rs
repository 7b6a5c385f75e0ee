//! Who may use the JSON API, route by route over every `/api/v1` route of the route table:
//! nobody without a token (session cookies included), a read-only token only for GET, a
//! read-write token for all; revoked and expired tokens, and tokens whose creator was
//! demoted, disabled or must choose a new password, not at all; an admin's token never on a
//! superadmin. Every refusal is RFC 9457 problem details.

use mailkeys::domain::Role;
use mailkeys::services::credentials::By;
use mailkeys::store::users::AdminFlag;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::api_v1::{create_token, Api};
use crate::both_backends;
use mailkeys_test_support::prelude::*;

const OPENAPI: &str = "/api/v1/openapi.json";

/// Every `/api/v1` route of the table but the public document, with its parameters filled
/// in (`id`: alice's account, `password_id`: her app password, `job`: a bulk job) and a
/// valid body.
fn api_routes(alice: i64, password: i64, job: i64) -> Vec<(Method, String, Value)> {
    let mut out = Vec::new();
    for (pattern, methods) in mailkeys::web::routes::table() {
        if !pattern.starts_with("/api/v1/") || pattern == OPENAPI {
            continue;
        }
        let path = pattern
            .replace("{id}", &alice.to_string())
            .replace("{password_id}", &password.to_string())
            .replace("{job}", &job.to_string());
        let path = if path.ends_with("/export") {
            format!("{path}?format=jsonl")
        } else {
            path
        };
        let body = match pattern {
            "/api/v1/invitations" => json!({ "email": "new.person@example.org" }),
            "/api/v1/bulk-revoke" => json!({ "domain": "nowhere.example", "dry_run": true }),
            _ => json!({ "reason": "matrix" }),
        };
        for method in methods {
            out.push((method.as_str().parse().unwrap(), path.clone(), body.clone()));
        }
    }
    assert!(out.len() >= 9, "the API's routes were found: {out:?}");
    out
}

async fn send(api: &Api, method: &Method, path: &str, body: &Value) -> reqwest::Response {
    if method == Method::GET {
        api.get(path).await
    } else {
        api.post(path, body).await
    }
}

/// Checks the problem details of a refusal and that it says `status`.
async fn assert_problem(response: reqwest::Response, status: StatusCode, what: &str) {
    assert_eq!(response.status(), status, "{what}");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json", "{what}");
    if status == StatusCode::UNAUTHORIZED {
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Bearer"), "{what}: {challenge}");
    }
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "about:blank", "{what}");
    assert_eq!(problem["status"], status.as_u16(), "{what}");
    assert!(problem["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
}

async fn the_authorization_matrix_route_by_route(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    let (_, password) = app.new_app_password(&alice, "Phone").await;
    let alice_id = app.user_id(ALICE).await;
    let root = app.signed_in_admin().await;
    let read_only = create_token(&root, "Reader", "read-only", "").await;
    let read_write = create_token(&root, "Writer", "read-write", "").await;
    let revoked = create_token(&root, "Revoked", "read-write", "").await;
    let expiring = create_token(&root, "Expiring", "read-write", "1").await;
    let admin = app.signed_in_as("second.admin@example.org", true).await;
    let demoted = create_token(&admin, "Demoted", "read-write", "").await;
    let disabled_admin = app.signed_in_as("third.admin@example.org", true).await;
    let disabled = create_token(&disabled_admin, "Disabled", "read-write", "").await;
    // A finished bulk revocation, for its job's page to exist.
    let job: i64 = sqlx::query_scalar(
        "INSERT INTO bulk_jobs (filter, reason, state, matched, started_at, updated_at) \
         VALUES ('of @example.org', 'matrix', 'done', 0, 0, 0) RETURNING id",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let routes = api_routes(alice_id, password, job);

    // Anonymous, and the session cookies of a user and of an admin: bearer only.
    for (who, browser) in [
        ("anonymous", None),
        ("user", Some(&alice)),
        ("admin", Some(&root)),
    ] {
        for (method, path, body) in &routes {
            let mut request = match browser {
                Some(b) => b.client.request(method.clone(), app.url(path)),
                None => reqwest::Client::new().request(method.clone(), app.url(path)),
            };
            if let Some(b) = browser {
                // A valid CSRF token too, so that only the missing bearer refuses it.
                request = request.header("x-csrf-token", b.csrf("/").await);
            }
            let response = request.json(body).send().await.unwrap();
            assert_problem(
                response,
                StatusCode::UNAUTHORIZED,
                &format!("{who}: {method} {path}"),
            )
            .await;
        }
    }

    // A read-only token reads and may not act.
    let reader = Api::new(&app, Some(&read_only));
    for (method, path, body) in &routes {
        let response = send(&reader, method, path, body).await;
        let what = format!("read-only: {method} {path}");
        if method == Method::GET {
            assert_eq!(response.status(), StatusCode::OK, "{what}");
        } else {
            assert_problem(response, StatusCode::FORBIDDEN, &what).await;
        }
    }
    assert_eq!(app.live_app_passwords().await, 1, "nothing revoked");

    // Revoked through the page; the creator of another demoted, a third one disabled.
    let id = crate::api_v1::token_id(&app, "Revoked").await;
    let confirm = format!("/admin/api-tokens/{id}/revoke");
    let done = root.post(&confirm, &confirm, &[]).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let second = users_row(&app, "second.admin@example.org").await;
    mailkeys::services::admin::set_role(&app.state, &second, Role::User, By::CommandLine)
        .await
        .unwrap();
    let third = users_row(&app, "third.admin@example.org").await;
    mailkeys::services::admin::set_flag(
        &app.state,
        &third,
        AdminFlag::Disabled,
        true,
        By::CommandLine,
    )
    .await
    .unwrap();
    for (who, token) in [
        ("revoked", &revoked),
        ("demoted creator", &demoted),
        ("disabled creator", &disabled),
        ("not a token", &"mk_not-a-token".to_owned()),
    ] {
        let api = Api::new(&app, Some(token));
        for (method, path, body) in &routes {
            let response = send(&api, method, path, body).await;
            assert_problem(
                response,
                StatusCode::UNAUTHORIZED,
                &format!("{who}: {method} {path}"),
            )
            .await;
        }
    }

    // A read-write token does everything (in the table's order: revoke one, then all …).
    let writer = Api::new(&app, Some(&read_write));
    for (method, path, body) in &routes {
        let response = send(&writer, method, path, body).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(
            status == StatusCode::OK || status == StatusCode::CREATED,
            "read-write: {method} {path}: {status} {text}"
        );
    }
    assert_eq!(app.live_app_passwords().await, 0);

    // A day later the expiring token is refused; the others still work.
    app.clock.advance(86_400 + 1);
    let expired = Api::new(&app, Some(&expiring));
    for (method, path, body) in &routes {
        let response = send(&expired, method, path, body).await;
        assert_problem(
            response,
            StatusCode::UNAUTHORIZED,
            &format!("expired: {method} {path}"),
        )
        .await;
    }
    assert_eq!(
        writer.get("/api/v1/accounts").await.status(),
        StatusCode::OK
    );

    // The document is public.
    let public = Api::new(&app, None).get(OPENAPI).await;
    assert_eq!(public.status(), StatusCode::OK);
}
both_backends!(the_authorization_matrix_route_by_route);

async fn users_row(app: &TestApp, email: &str) -> mailkeys::store::users::UserRow {
    let id = app.user_id(email).await;
    mailkeys::store::users::find_by_id(&app.db, mailkeys::domain::UserId(id))
        .await
        .unwrap()
        .unwrap()
}

async fn an_admins_token_cannot_act_on_a_superadmin(backend: Backend) {
    let app = spawn_app(backend).await;
    let root = app.signed_in_admin().await;
    app.new_app_password(&root, "Root's phone").await;
    let root_id = app.user_id(ROOT).await;
    let admin = app.signed_in_as("second.admin@example.org", true).await;
    let token = create_token(&admin, "Helpdesk", "read-write", "").await;
    let api = Api::new(&app, Some(&token));
    for action in ["revoke-all", "compromised"] {
        let path = format!("/api/v1/accounts/{root_id}/{action}");
        let response = api.post(&path, &json!({ "reason": "takeover" })).await;
        assert_problem(response, StatusCode::FORBIDDEN, &path).await;
    }
    let invite = api
        .post(
            "/api/v1/invitations",
            &json!({ "email": "new.admin@example.org", "admin": true }),
        )
        .await;
    assert_problem(invite, StatusCode::FORBIDDEN, "an admin invitation").await;
    assert_eq!(app.live_app_passwords().await, 1, "root's password lives");
    let flags: i64 = app
        .count("SELECT COUNT(*) FROM users WHERE must_reset = (1 = 1)")
        .await;
    assert_eq!(flags, 0);
}
both_backends!(an_admins_token_cannot_act_on_a_superadmin);

async fn a_cookie_alone_never_acts_and_bad_input_is_a_problem(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    app.new_app_password(&alice, "Phone").await;
    let alice_id = app.user_id(ALICE).await;
    let root = app.signed_in_admin().await;
    let path = format!("/api/v1/accounts/{alice_id}/revoke-all");
    // The admin's own session, without and with its CSRF token: refused, 401.
    let bare = root
        .client
        .post(app.url(&path))
        .json(&json!({ "reason": "x" }))
        .send()
        .await
        .unwrap();
    assert_problem(bare, StatusCode::UNAUTHORIZED, "cookie only").await;
    assert_eq!(app.live_app_passwords().await, 1);

    let token = create_token(&root, "Writer", "read-write", "").await;
    let api = Api::new(&app, Some(&token));
    let broken = reqwest::Client::new()
        .post(app.url(&path))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_problem(broken, StatusCode::UNPROCESSABLE_ENTITY, "broken JSON").await;
    let unknown = api.get("/api/v1/accounts/999999").await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "no such account").await;
    let bad_filter = api.get("/api/v1/accounts?filter=nonsense").await;
    assert_problem(bad_filter, StatusCode::UNPROCESSABLE_ENTITY, "bad filter").await;
    let bad_audit = api.get("/api/v1/audit?since=yesterday").await;
    assert_problem(bad_audit, StatusCode::UNPROCESSABLE_ENTITY, "bad date").await;
    assert_eq!(app.live_app_passwords().await, 1);
}
both_backends!(a_cookie_alone_never_acts_and_bad_input_is_a_problem);

async fn a_method_a_path_does_not_take_is_a_problem_too(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = reqwest::Client::new()
        .get(app.url("/api/v1/bulk-revoke"))
        .send()
        .await
        .unwrap();
    assert_problem(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "GET of a POST route",
    )
    .await;
}
both_backends!(a_method_a_path_does_not_take_is_a_problem_too);

async fn a_compromised_admins_tokens_stop_working(backend: Backend) {
    let app = spawn_app(backend).await;
    let root = app.signed_in_admin().await;
    let roots = Api::new(
        &app,
        Some(&create_token(&root, "Root's", "read-write", "").await),
    );
    let admin = app.signed_in_as("second.admin@example.org", true).await;
    let theirs = Api::new(
        &app,
        Some(&create_token(&admin, "Theirs", "read-only", "").await),
    );
    assert_eq!(
        theirs.get("/api/v1/accounts").await.status(),
        StatusCode::OK
    );
    let admin_id = app.user_id("second.admin@example.org").await;
    roots
        .post_json(
            &format!("/api/v1/accounts/{admin_id}/compromised"),
            &json!({ "reason": "laptop stolen" }),
            StatusCode::OK,
        )
        .await;
    // Until the admin has chosen a new main password, whatever holds their token is refused.
    let refused = theirs.get("/api/v1/accounts").await;
    assert_problem(
        refused,
        StatusCode::UNAUTHORIZED,
        "a compromised admin's token",
    )
    .await;
    assert_eq!(roots.get("/api/v1/accounts").await.status(), StatusCode::OK);
}
both_backends!(a_compromised_admins_tokens_stop_working);
