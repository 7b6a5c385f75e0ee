//! Every route, from the router's own table (`mailkeys::web::routes::table`), so that a
//! route added later is covered without anyone remembering to: no state change without a
//! CSRF token, and security headers on every answer.

use reqwest::{Method, StatusCode};

use crate::both_backends;
use mailkeys_test_support::prelude::*;

/// `(path, methods)` for each route of the table, with path parameters filled in with
/// values that exist in the test (id 1 is the first user).
fn routes() -> Vec<(String, Vec<Method>)> {
    let found: Vec<(String, Vec<Method>)> = mailkeys::web::routes::table()
        .into_iter()
        .map(|(pattern, methods)| {
            let path = pattern
                .split('/')
                .map(|segment| {
                    if segment.starts_with('{') {
                        "1"
                    } else {
                        segment
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let methods = methods
                .iter()
                .map(|m| m.as_str().parse().unwrap())
                .collect();
            (path, methods)
        })
        .collect();
    assert!(found.len() >= 20, "the route list was read: {found:?}");
    found
}

async fn every_state_changing_route_refuses_a_request_without_a_csrf_token(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("root@example.org", PASSWORD, true).await;
    let admin = app.browser();
    admin.sign_in("root@example.org", PASSWORD).await;
    let mut checked = 0;
    for (path, methods) in routes() {
        for method in methods.into_iter().filter(|m| m != Method::GET) {
            for body in [
                None,
                Some("csrf=forged&name=x&password=x&reason=x&flag=disabled&on=yes"),
            ] {
                let mut request = admin.client.request(method.clone(), app.url(&path));
                if let Some(body) = body {
                    request = request
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(body);
                }
                let response = request.send().await.unwrap();
                // The JSON API takes no cookie at all: without its bearer token, a 401.
                let refusal = if path.starts_with("/api/v1/") {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::FORBIDDEN
                };
                assert_eq!(
                    response.status(),
                    refusal,
                    "{method} {path} without a valid token"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 12, "{checked} state-changing routes checked");
    assert_eq!(
        admin.get("/admin").await.status(),
        StatusCode::OK,
        "nothing was changed: still signed in, still admin"
    );
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(sessions, 1);
}
both_backends!(every_state_changing_route_refuses_a_request_without_a_csrf_token);

async fn every_route_answers_with_security_headers_signed_in_or_not(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("root@example.org", PASSWORD, true).await;
    let admin = app.browser();
    admin.sign_in("root@example.org", PASSWORD).await;
    let visitor = app.browser();
    for (path, methods) in routes() {
        for method in methods {
            for browser in [&admin, &visitor] {
                let response = browser
                    .client
                    .request(method.clone(), app.url(&path))
                    .send()
                    .await
                    .unwrap();
                let h = response.headers();
                for header in [
                    "content-security-policy",
                    "x-content-type-options",
                    "x-frame-options",
                    "referrer-policy",
                ] {
                    assert!(
                        h.get(header).is_some(),
                        "{header} on {method} {path} ({})",
                        response.status()
                    );
                }
                if let Some(cookie) = h.get("set-cookie") {
                    let cookie = cookie.to_str().unwrap();
                    assert!(
                        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
                        "{method} {path}: {cookie}"
                    );
                }
            }
        }
    }
}
both_backends!(every_route_answers_with_security_headers_signed_in_or_not);
