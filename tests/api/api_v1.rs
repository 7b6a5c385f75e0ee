//! API tokens as an admin handles them on /admin/api-tokens: created with a name, a scope and
//! an expiry, shown once and stored only as a digest, listed with their last use, revoked
//! after a confirmation; and the helpers the other `api_v1_*` tests share.

use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::both_backends;
use mailkeys_test_support::prelude::*;

pub(crate) const TOKENS: &str = "/admin/api-tokens";

/// A client of the JSON API with a bearer token (or none).
pub(crate) struct Api {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    pub(crate) fn new(app: &TestApp, token: Option<&str>) -> Self {
        Self {
            client: reqwest::Client::new(),
            base: app.url(""),
            token: token.map(str::to_owned),
        }
    }

    fn with_token(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Response {
        let request = self.client.get(format!("{}{path}", self.base));
        self.with_token(request).send().await.unwrap()
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> Response {
        let request = self.client.post(format!("{}{path}", self.base)).json(body);
        self.with_token(request).send().await.unwrap()
    }

    /// A GET that must answer 200 with JSON.
    pub(crate) async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.unwrap()
    }

    /// A POST that must answer `expected` with JSON.
    pub(crate) async fn post_json(&self, path: &str, body: &Value, expected: StatusCode) -> Value {
        let response = self.post(path, body).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, expected, "POST {path}: {text}");
        serde_json::from_str(&text).unwrap()
    }
}

/// Creates a token on the admin page through `admin`'s browser; the page's token.
pub(crate) async fn create_token(admin: &Browser, name: &str, scope: &str, days: &str) -> String {
    let response = admin
        .post(
            TOKENS,
            TOKENS,
            &[("name", name), ("scope", scope), ("days", days)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    let re = regex::Regex::new(r#"<code id="api-token">(mk_[A-Za-z0-9_-]{43})</code>"#).unwrap();
    re.captures(&page)
        .unwrap_or_else(|| panic!("no token on the created page:\n{page}"))[1]
        .to_owned()
}

/// The signed-in superadmin [`ROOT`] and a read-write token of theirs named "Ticketing".
pub(crate) async fn root_with_token(app: &TestApp) -> (Browser, Api) {
    let admin = app.signed_in_admin().await;
    let token = create_token(&admin, "Ticketing", "read-write", "").await;
    (admin, Api::new(app, Some(&token)))
}

/// The id of the API token named `name`.
pub(crate) async fn token_id(app: &TestApp, name: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM api_tokens WHERE name = $1")
        .bind(name)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

async fn a_token_is_shown_once_and_stored_only_as_its_digest(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.signed_in_admin().await;
    let token = create_token(&admin, "Ticketing", "read-only", "30").await;
    assert!(token.len() > 40, "256 random bits, base64: {token}");

    let stored: String = sqlx::query_scalar("SELECT token_hash FROM api_tokens")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, mailkeys::infra::random::token_digest(&token));
    assert_ne!(stored, token);
    for (table, column) in [
        ("api_tokens", "name"),
        ("api_tokens", "token_hash"),
        ("audit_log", "detail"),
    ] {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE {column} LIKE '%{token}%'");
        assert_eq!(app.count(&sql).await, 0, "the token in {table}.{column}");
    }
    let list = admin.get_text(TOKENS).await;
    assert!(
        list.contains("Ticketing") && list.contains("read-only"),
        "{list}"
    );
    assert!(
        !list.contains(&token),
        "the list never shows the token again"
    );
    app.assert_audited_anywhere("api_token_created").await;
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE event = 'api_token_created'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(
        detail.contains("“Ticketing” of root@example.org (read-only, expires in 30 days)"),
        "{detail}"
    );

    let refused = admin
        .post(
            TOKENS,
            TOKENS,
            &[("name", " "), ("scope", "read-only"), ("days", "")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = admin
        .post(
            TOKENS,
            TOKENS,
            &[("name", "x"), ("scope", "superuser"), ("days", "")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("SELECT COUNT(*) FROM api_tokens").await, 1);
}
both_backends!(a_token_is_shown_once_and_stored_only_as_its_digest);

async fn the_last_use_is_recorded_at_most_once_a_minute(backend: Backend) {
    let app = spawn_app(backend).await;
    let (admin, api) = root_with_token(&app).await;
    let list = admin.get_text(TOKENS).await;
    assert!(list.contains(">never<"), "not used yet: {list}");

    api.get_json("/api/v1/accounts").await;
    let (at, ip): (Option<i64>, Option<String>) =
        sqlx::query_as("SELECT last_used_at, last_used_ip FROM api_tokens")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(at, Some(app.clock_now()));
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));
    assert!(admin.get_text(TOKENS).await.contains("from 127.0.0.1"));

    // Within the minute, no write: the recorded time stays.
    let earlier = app.clock_now() - 30;
    sqlx::query("UPDATE api_tokens SET last_used_at = $1")
        .bind(earlier)
        .execute(&app.db.pool)
        .await
        .unwrap();
    api.get_json("/api/v1/accounts").await;
    let last = "SELECT COUNT(*) FROM api_tokens WHERE last_used_at = ";
    assert_eq!(app.count(&format!("{last}{earlier}")).await, 1);
    app.clock.advance(31);
    api.get_json("/api/v1/accounts").await;
    assert_eq!(
        app.count(&format!("{last}{}", app.clock_now())).await,
        1,
        "a minute later, recorded again"
    );
}
both_backends!(the_last_use_is_recorded_at_most_once_a_minute);

async fn an_admin_revokes_a_token_after_confirming(backend: Backend) {
    let app = spawn_app(backend).await;
    let (admin, api) = root_with_token(&app).await;
    api.get_json("/api/v1/accounts").await;
    let id = token_id(&app, "Ticketing").await;
    let confirm = format!("{TOKENS}/{id}/revoke");
    let page = admin.get_text(&confirm).await;
    assert!(page.contains("Revoke the API token?"), "{page}");
    assert_eq!(api.get("/api/v1/accounts").await.status(), StatusCode::OK);

    // Six minutes after signing in, the admin's password is asked for again.
    app.clock.advance(6 * 60);
    assert!(admin.get_text(&confirm).await.contains("Your own password"));
    let refused = admin.post(&confirm, &confirm, &[]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(api.get("/api/v1/accounts").await.status(), StatusCode::OK);

    let done = admin
        .post(&confirm, &confirm, &[("password", PASSWORD)])
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/admin/api-tokens?revoked=1");
    assert!(admin
        .get_text("/admin/api-tokens?revoked=1")
        .await
        .contains("The token was revoked"));
    assert_eq!(
        api.get("/api/v1/accounts").await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.assert_audited_anywhere("api_token_revoked").await;
    let page = admin.get_text(&confirm).await;
    assert!(page.contains("It is revoked already"), "{page}");
    assert!(
        !page.contains("Revoke the token<"),
        "nothing to confirm: {page}"
    );
    let again = admin
        .post(TOKENS, &confirm, &[("password", PASSWORD)])
        .await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER, "a second click");
    let revocations = "SELECT COUNT(*) FROM audit_log WHERE event = 'api_token_revoked'";
    assert_eq!(app.count(revocations).await, 1, "audited once");
    assert_eq!(
        admin.get_status("/admin/api-tokens/999/revoke").await,
        StatusCode::NOT_FOUND
    );
}
both_backends!(an_admin_revokes_a_token_after_confirming);

async fn only_admins_reach_the_token_page(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    assert_eq!(alice.get_status(TOKENS).await, StatusCode::NOT_FOUND);
    let csrf = alice.csrf("/").await;
    let refused = alice
        .post_raw(
            TOKENS,
            &[("csrf", &csrf), ("name", "Mine"), ("scope", "read-write")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM api_tokens").await, 0);
}
both_backends!(only_admins_reach_the_token_page);

async fn the_operator_makes_lists_and_revokes_tokens_on_the_host(backend: Backend) {
    use crate::cli::mailkeys;
    let app = spawn_app(backend).await;
    app.add_user(ROOT, PASSWORD, true).await;
    app.add_user(ALICE, PASSWORD, false).await;
    let create = [
        "api-token",
        "create",
        "Provisioning",
        "--owner",
        ROOT,
        "--scope",
        "read-write",
        "--days",
        "7",
    ];
    let (ok, out, err) = mailkeys(&app, &create, "");
    assert!(ok, "{err}");
    let token = out.trim();
    assert!(token.starts_with("mk_"), "{out}");
    let api = Api::new(&app, Some(token));
    let listed = api.get_json("/api/v1/accounts?q=alice").await;
    assert_eq!(listed["accounts"][0]["email"], ALICE);

    let (ok, _, err) = mailkeys(&app, &["api-token", "create", "X", "--owner", ALICE], "");
    assert!(!ok, "a user's token");
    assert!(err.contains("active admin"), "{err}");

    let (ok, out, _) = mailkeys(&app, &["api-token", "list"], "");
    assert!(ok);
    assert!(
        out.contains("Provisioning\tread-write\troot@example.org\tactive\tlast used"),
        "{out}"
    );
    let id = token_id(&app, "Provisioning").await.to_string();
    let (ok, out, err) = mailkeys(&app, &["api-token", "revoke", &id], "");
    assert!(ok, "{err}");
    assert!(out.contains("revoked"));
    assert_eq!(
        api.get("/api/v1/accounts").await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.assert_audited_anywhere("api_token_revoked").await;
}
both_backends!(the_operator_makes_lists_and_revokes_tokens_on_the_host);
