//! The second factor in a real Chromium (the harness of tests/api/browser.rs): an
//! authenticator app enrolled and used to sign in, then a recovery code, all without
//! JavaScript; a passkey registered and used with Chromium's virtual authenticator
//! (WebDriver's WebAuthn extension), with JavaScript, also to re-authenticate before an app
//! password is created. SQLite only, like browser.rs.

use std::sync::Arc;

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::Client;
use serde_json::{json, Value};

use super::browser::{click, find, in_browser, js, path_of, text_of, type_into, wait_until};
use super::browser_layout::check_page;
use super::second_factor::code_at;
use mailkeys_test_support::prelude::*;

/// WebDriver's "Add Virtual Authenticator" (W3C WebAuthn, §11.3), which chromedriver
/// implements: a platform authenticator that holds passkeys and verifies the user.
#[derive(Debug)]
struct AddVirtualAuthenticator;

impl WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.expect("a WebDriver session");
        base_url.join(&format!("session/{session}/webauthn/authenticator"))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (reqwest::Method, Option<String>) {
        let body = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
        });
        (reqwest::Method::POST, Some(body.to_string()))
    }
}

/// The app with `public_url = "http://localhost"` (the relying party is `localhost`), alice's
/// account, and the address the browser uses: `localhost`, where WebAuthn works over HTTP.
async fn app_on_localhost() -> (Arc<TestApp>, String) {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.public_url = Some("http://localhost".parse().unwrap());
    })
    .await;
    app.add_user(ALICE, PASSWORD, false).await;
    let base = format!("http://localhost:{}", app.addr.port());
    (Arc::new(app), base)
}

/// Types alice's address and password into the sign-in form and submits it.
async fn give_password(b: &Client, base: &str) {
    b.goto(&format!("{base}/sign-in")).await.unwrap();
    type_into(b, "input[name=email]", ALICE).await;
    type_into(b, "input[name=password]", PASSWORD).await;
    click(b, "main form button[type=submit]").await;
}

async fn sign_out(b: &Client) {
    click(b, "nav form button[type=submit]").await;
    find(b, "input[name=password]").await;
}

/// Gives `code` on the second-factor page and lands on the dashboard.
async fn give_code(b: &Client, code: &str) {
    find(b, "input[name=code]").await;
    assert_eq!(path_of(b).await, "/sign-in/second-factor");
    type_into(b, "input[name=code]", code).await;
    click(b, "main form button[type=submit]").await;
    find(b, "section#create").await;
    assert_eq!(path_of(b).await, "/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authenticator_app_and_a_recovery_code_sign_in_without_javascript() {
    let (app, base) = app_on_localhost().await;
    let shared = Arc::clone(&app);
    in_browser(false, move |b| async move {
        let app = shared;
        give_password(&b, &base).await;
        find(&b, "section#create").await;
        b.goto(&format!("{base}/account/second-factor"))
            .await
            .unwrap();
        click(&b, "#totp form button[type=submit]").await;
        find(&b, "#totp-qr svg").await;
        let secret = text_of(&b, "#totp-secret").await;
        type_into(
            &b,
            "#totp input[name=code]",
            &code_at(&secret, app.clock_now()),
        )
        .await;
        click(&b, "#totp form button[type=submit]").await;
        find(&b, "#recovery-codes").await;
        let codes: Vec<String> = text_of(&b, "#recovery-codes")
            .await
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(codes.len(), 10, "{codes:?}");
        sign_out(&b).await;

        app.clock.advance(30);
        give_password(&b, &base).await;
        give_code(&b, &code_at(&secret, app.clock_now())).await;
        sign_out(&b).await;

        give_password(&b, &base).await;
        give_code(&b, &codes[4]).await;
        b.goto(&format!("{base}/account/second-factor"))
            .await
            .unwrap();
        assert_eq!(text_of(&b, "#recovery-left").await, "9");
    })
    .await;
    app.assert_audited(ALICE, "second_factor_added").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_registered_with_a_virtual_authenticator_signs_in() {
    let (app, base) = app_on_localhost().await;
    let shared = Arc::clone(&app);
    in_browser(true, move |b| async move {
        let app = shared;
        let added: Value = b
            .issue_cmd(AddVirtualAuthenticator)
            .await
            .expect("chromedriver adds a virtual authenticator");
        assert!(added.is_string(), "an authenticator id: {added}");
        give_password(&b, &base).await;
        find(&b, "section#create").await;
        b.goto(&format!("{base}/account/second-factor"))
            .await
            .unwrap();
        type_into(&b, "#passkey-name", "Laptop").await;
        click(&b, "#passkey-register").await;
        wait_until(
            &b,
            "the recovery codes are shown",
            "return !document.getElementById('passkey-codes').hidden",
        )
        .await;
        let shown = js(
            &b,
            "return document.querySelectorAll('#recovery-codes li').length",
        )
        .await;
        assert_eq!(shown, json!(10));
        b.goto(&format!("{base}/account/second-factor"))
            .await
            .unwrap();
        assert_eq!(text_of(&b, "tr.passkey td.name").await, "Laptop");
        check_page(&b, "second-factor-enrolled").await;
        sign_out(&b).await;

        give_password(&b, &base).await;
        find(&b, "#passkey-assert").await;
        assert_eq!(path_of(&b).await, "/sign-in/second-factor");
        check_page(&b, "second-factor-step").await;
        click(&b, "#passkey-assert").await;
        find(&b, "section#create").await;
        assert_eq!(path_of(&b).await, "/");
        let used: i64 = app
            .count("SELECT COUNT(*) FROM passkeys WHERE last_used_at IS NOT NULL")
            .await;
        assert_eq!(used, 1);

        // Long after sign-in, creating an app password asks for the passkey again, then
        // the form works.
        app.clock.advance(app.settings.reauth_after_secs + 1);
        type_into(&b, "#create input[name=name]", "Phone").await;
        click(&b, "#create button[type=submit]").await;
        find(&b, "#passkey-assert").await;
        assert_eq!(path_of(&b).await, "/reauth");
        check_page(&b, "reauth").await;
        click(&b, "#passkey-assert").await;
        find(&b, "section#create").await;
        assert_eq!(path_of(&b).await, "/");
        type_into(&b, "#create input[name=name]", "Phone").await;
        click(&b, "#create button[type=submit]").await;
        find(&b, "code#new-password").await;
        assert_eq!(app.live_app_passwords().await, 1);
    })
    .await;
    let signed_in: i64 = app
        .count(
            "SELECT COUNT(*) FROM audit_log WHERE event = 'sign_in' AND detail = 'with a passkey'",
        )
        .await;
    assert_eq!(signed_in, 1);
}
