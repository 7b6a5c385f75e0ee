//! The authorization matrix of the web routes, route by route, from the router's own table
//! (`mailkeys::web::routes::table`): every route is declared below with who may use it, so a
//! route added later fails this test until someone says who may use it. Each route and
//! method is then tried as a visitor, a user, an admin and the superadmin, and, for the
//! routes that act on one account, by an admin on another admin's account. The JSON API
//! under `/api/v1` (bearer tokens, not cookies) has its own matrix.

use reqwest::{Method, Response, StatusCode};

use crate::both_backends;
use mailkeys_test_support::prelude::*;

/// Who may use a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Only a session that owes its second factor (covered by `second_factor_guards`).
    Pending,
    /// Any signed-in account, on its own things.
    SignedIn,
    /// Admins; a user gets the same 404 as for a page that does not exist.
    Admin,
    /// Admins, acting on one account (`{id}`): an admin on another admin's account is
    /// refused; a superadmin may.
    AdminOnAccount,
    /// Superadmins only (roles): an admin is refused even on a user's account.
    Superadmin,
}

/// Who may use each route of the table, by its pattern.
fn access(pattern: &str) -> Access {
    use Access::*;
    match pattern {
        "/sign-in"
        | "/setup/{token}"
        | "/invite/{token}"
        | "/healthz"
        | "/readyz"
        | "/.well-known/autoconfig/mail/config-v1.1.xml"
        | "/mail/config-v1.1.xml" => Public,
        "/sign-in/second-factor"
        | "/sign-in/second-factor/passkey/options"
        | "/sign-in/second-factor/passkey" => Pending,
        "/"
        | "/app-passwords"
        | "/app-passwords/{id}/new"
        | "/app-passwords/{id}/profile"
        | "/app-passwords/{id}/revoke"
        | "/app-passwords/{id}/edit"
        | "/app-passwords/{id}/rename"
        | "/app-passwords/revoke-all"
        | "/account"
        | "/account/password"
        | "/account/imap"
        | "/check"
        | "/check/stream"
        | "/api/check"
        | "/api/me"
        | "/reauth"
        | "/reauth/passkey/options"
        | "/reauth/passkey"
        | "/account/second-factor"
        | "/account/second-factor/totp"
        | "/account/second-factor/totp/confirm"
        | "/account/second-factor/totp/remove"
        | "/account/second-factor/recovery-codes"
        | "/account/second-factor/passkeys/options"
        | "/account/second-factor/passkeys"
        | "/account/second-factor/passkeys/{id}/remove"
        | "/sign-out"
        | "/sign-out-everywhere" => SignedIn,
        "/admin"
        | "/admin/dovecot"
        | "/admin/failed-sign-ins"
        | "/admin/audit"
        | "/admin/audit/export"
        | "/admin/invitations"
        | "/admin/bulk-revoke"
        | "/admin/mail-setup"
        | "/admin/notices"
        | "/admin/dovecot/check"
        | "/admin/users/{id}"
        | "/admin/activity"
        | "/admin/bulk-revoke/{job}"
        | "/admin/api-tokens"
        | "/admin/api-tokens/{id}/revoke" => Admin,
        "/admin/users/{id}/revoke-all"
        | "/admin/users/{id}/end-sessions"
        | "/admin/users/{id}/compromised"
        | "/admin/users/{id}/flags"
        | "/admin/users/{id}/confirm/{action}"
        | "/admin/users/{id}/app-passwords/{password_id}/revoke"
        | "/admin/users/{id}/second-factor/reset" => AdminOnAccount,
        "/admin/users/{id}/role" => Superadmin,
        other => panic!("say who may use the new route {other} in tests/api/authorization.rs"),
    }
}

/// The values a route's parameters take for one request.
pub(crate) struct Params {
    /// `{id}` of `/app-passwords/…` and `/account/…`: the requester's own app password.
    pub own_password: i64,
    /// `{id}` of `/admin/users/…`: the account acted on.
    pub account: i64,
    /// `{password_id}`: an app password of that account.
    pub account_password: i64,
}

pub(crate) fn fill(pattern: &str, p: &Params) -> String {
    let id = if pattern.starts_with("/admin/users/") {
        p.account
    } else if pattern.starts_with("/admin/api-tokens/") {
        API_TOKEN
    } else {
        p.own_password
    };
    pattern
        .replace("{id}", &id.to_string())
        .replace("{password_id}", &p.account_password.to_string())
        .replace("{action}", "revoke-all")
        .replace("{token}", "not-a-real-token")
        .replace("{job}", &BULK_JOB.to_string())
}

/// The bulk revocation job of `/admin/bulk-revoke/{job}`: the first, made by [`a_bulk_job`].
const BULK_JOB: i64 = 1;

/// The API token of `/admin/api-tokens/{id}/…`: the first, made by [`an_api_token`].
const API_TOKEN: i64 = 1;

/// An API token of the superadmin, for its revocation page to exist.
async fn an_api_token(app: &TestApp) {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO api_tokens (name, token_hash, created_by, created_at) \
         VALUES ('matrix', 'not a digest', 1, 0) RETURNING id",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(id, API_TOKEN);
}

/// A finished bulk revocation, for its page to exist.
async fn a_bulk_job(app: &TestApp) {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO bulk_jobs (filter, reason, state, matched, started_at, updated_at) \
         VALUES ('of @example.org', 'matrix', 'done', 0, 0, 0) RETURNING id",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(id, BULK_JOB);
}

/// Every route and method of the table, in an order that keeps what each request needs:
/// revoking one app password of an account before the actions that revoke them all, those
/// that revoke the requester's own app passwords after the others that use one, and those
/// that end the session last.
pub(crate) fn routes() -> Vec<(&'static str, Method, Access)> {
    let mut all: Vec<(&'static str, Method, Access)> = mailkeys::web::routes::table()
        .into_iter()
        .filter(|(pattern, _)| !pattern.starts_with("/api/v1"))
        .flat_map(|(pattern, methods)| {
            methods.into_iter().map(move |method| {
                let method: Method = method.as_str().parse().unwrap();
                (pattern, method, access(pattern))
            })
        })
        .collect();
    all.sort_by_key(|(pattern, method, _)| match (method, *pattern) {
        (&Method::POST, "/admin/users/{id}/app-passwords/{password_id}/revoke") => 0,
        (&Method::POST, "/app-passwords/{id}/revoke" | "/app-passwords/revoke-all") => 2,
        (&Method::POST, "/sign-out-everywhere") => 3,
        (&Method::POST, "/sign-out") => 4,
        _ => 1,
    });
    assert!(all.len() >= 60, "the route table was read: {}", all.len());
    all
}

/// A request as the browser would send it: POSTs carry the session's (or the visitor's)
/// CSRF token, so that what answers is the route's own authorization, not the CSRF check.
pub(crate) async fn request(
    browser: &Browser,
    method: &Method,
    path: &str,
    csrf: &str,
) -> Response {
    let mut request = browser
        .client
        .request(method.clone(), format!("{}{path}", browser.base));
    if *method == Method::POST {
        request = request.header("x-csrf-token", csrf).form(&[
            ("csrf", csrf),
            ("reason", "authorization matrix"),
            ("name", "matrix"),
            ("role", "admin"),
            ("flag", "disabled"),
            ("on", "yes"),
        ]);
    }
    request.send().await.unwrap()
}

fn sent_to_sign_in(response: &Response) -> bool {
    response.status() == StatusCode::SEE_OTHER && location(response).starts_with("/sign-in")
}

/// Why a signed-in requester that may use the route was refused, if it was.
async fn refusal(response: Response) -> Option<String> {
    let status = response.status();
    if sent_to_sign_in(&response) {
        return Some("sent to sign in".into());
    }
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND)
        || status.is_server_error()
    {
        return Some(status.to_string());
    }
    let body = response.text().await.unwrap();
    (status == StatusCode::FORBIDDEN
        && (body.contains("Only a superadmin") || body.contains("Only admins")))
    .then(|| format!("refused for standing: {body}"))
}

/// Routes whose 404 says the requester has none of what the route works on (a passkey),
/// not that the requester may not ask.
const NOT_FOUND_FOR_WANT_OF_A_PASSKEY: &[&str] = &[
    "/reauth/passkey/options",
    "/reauth/passkey",
    "/account/second-factor/passkeys/{id}/remove",
];

/// Collects, rather than stops at, every route that refused a requester who may use it.
pub(crate) async fn let_through(
    problems: &mut Vec<String>,
    pattern: &str,
    response: Response,
    what: &str,
) {
    if NOT_FOUND_FOR_WANT_OF_A_PASSKEY.contains(&pattern)
        && response.status() == StatusCode::NOT_FOUND
    {
        return;
    }
    if pattern.starts_with("/sign-out") && sent_to_sign_in(&response) {
        // Signed out, as asked.
        return;
    }
    if let Some(why) = refusal(response).await {
        problems.push(format!("{what}: {why}"));
    }
}

pub(crate) async fn assert_refused_for_standing(response: Response, what: &str) {
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "{what}");
    let body = response.text().await.unwrap();
    assert!(body.contains("Only a superadmin"), "{what}: {body}");
}

pub(crate) struct Requester {
    pub name: &'static str,
    pub browser: Browser,
    pub csrf: String,
    pub own_password: i64,
}

pub(crate) async fn requester(
    app: &TestApp,
    name: &'static str,
    email: &str,
    admin: bool,
) -> Requester {
    let browser = app.signed_in_as(email, admin).await;
    let (_, own_password) = app.new_app_password(&browser, "own").await;
    let csrf = browser.csrf("/account").await;
    Requester {
        name,
        browser,
        csrf,
        own_password,
    }
}

/// A user's account with an app password, to be acted on: its id and the password's.
async fn victim(app: &TestApp, email: &str) -> (i64, i64) {
    let browser = app.signed_in(email).await;
    let (_, password) = app.new_app_password(&browser, "victim's").await;
    (app.user_id(email).await, password)
}

async fn every_route_refuses_whoever_may_not_use_it(backend: Backend) {
    let app = spawn_app(backend).await;
    a_bulk_job(&app).await;
    // The first admin is the superadmin.
    let root = requester(&app, "superadmin", ROOT, true).await;
    an_api_token(&app).await;
    let admin = requester(&app, "admin", "admin@example.org", true).await;
    let user = requester(&app, "user", ALICE, false).await;

    // A visitor: nothing but the public routes.
    let visitor = app.browser();
    let visitor_csrf = visitor.csrf("/sign-in").await;
    // Each requester acts on an account of its own, so that what one did (compromise,
    // disable) does not change what the next one finds.
    let on_victim = |own_password, (account, account_password)| Params {
        own_password,
        account,
        account_password,
    };
    let for_visitor = victim(&app, "victim-0@example.org").await;
    let for_user = victim(&app, "victim-1@example.org").await;
    let (mut checked, mut problems) = (0, Vec::new());
    for (pattern, method, access) in routes() {
        let path = fill(pattern, &on_victim(root.own_password, for_visitor));
        let what = format!("visitor: {method} {path}");
        let response = request(&visitor, &method, &path, &visitor_csrf).await;
        if access == Access::Public {
            assert!(!sent_to_sign_in(&response), "{what}");
            assert!(!response.status().is_server_error(), "{what}");
        } else if pattern.starts_with("/api/") {
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        } else {
            assert!(sent_to_sign_in(&response), "{what}: {}", response.status());
        }
        checked += 1;
    }

    // A user: their own things, and no admin route, not even its existence.
    for (pattern, method, access) in routes() {
        let path = fill(pattern, &on_victim(user.own_password, for_user));
        let what = format!("{}: {method} {path}", user.name);
        let response = request(&user.browser, &method, &path, &user.csrf).await;
        match access {
            Access::Public | Access::Pending => {}
            Access::SignedIn => let_through(&mut problems, pattern, response, &what).await,
            Access::Admin | Access::AdminOnAccount | Access::Superadmin => {
                assert_eq!(response.status(), StatusCode::NOT_FOUND, "{what}")
            }
        }
        checked += 1;
    }

    // An admin and the superadmin, on a user's account: every admin route but roles.
    for (who, email) in [
        (&admin, "victim-2@example.org"),
        (&root, "victim-3@example.org"),
    ] {
        let account = victim(&app, email).await;
        for (pattern, method, access) in routes() {
            let path = fill(pattern, &on_victim(who.own_password, account));
            let what = format!("{}: {method} {path}", who.name);
            let response = request(&who.browser, &method, &path, &who.csrf).await;
            match access {
                Access::Public | Access::Pending => {}
                Access::Superadmin if who.name == "admin" && method == Method::POST => {
                    assert_refused_for_standing(response, &what).await
                }
                _ => let_through(&mut problems, pattern, response, &what).await,
            }
            checked += 1;
        }
    }
    assert!(problems.is_empty(), "refused:\n{}", problems.join("\n"));
    assert!(checked >= 240, "{checked} requests checked");
}
both_backends!(every_route_refuses_whoever_may_not_use_it);
