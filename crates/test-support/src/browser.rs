//! A browser-like HTTP client: its own cookie jar, no automatic redirects, the CSRF token
//! scraped from the page a form is on, and one method per user action. The tests and the
//! benchmark sign in with it alike.

use std::time::{Duration, Instant};

use regex::Regex;
use reqwest::redirect::Policy;
use reqwest::{Response, StatusCode};

#[derive(Clone)]
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
}

/// An app password as the created page shows it.
pub struct Created {
    pub plaintext: String,
    pub page: String,
}

pub fn csrf_in(html: &str) -> String {
    let re = Regex::new(r#"name="csrf" value="([^"]+)""#).unwrap();
    re.captures(html)
        .map(|c| c[1].to_owned())
        .unwrap_or_else(|| panic!("no CSRF token in page:\n{html}"))
}

impl Browser {
    /// A new browser for the service at `base` (`http://127.0.0.1:PORT`).
    pub fn new(base: &str) -> Self {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .build()
            .unwrap();
        Self {
            client,
            base: base.to_owned(),
        }
    }

    /// The CSRF token of the form on the page at `path`.
    pub async fn csrf(&self, path: &str) -> String {
        csrf_in(&self.get_text(path).await)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{}", self.base, path))
            .send()
            .await
            .unwrap()
    }

    /// The status of a GET of `path`.
    /// Polls `path` until the server answers it at all (a freshly started `mailkeys serve`),
    /// for up to 10 s; whether it ever did.
    pub async fn wait_until_answering(&self, path: &str) -> bool {
        for _ in 0..200 {
            if self
                .client
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .is_ok()
            {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        false
    }

    pub async fn get_status(&self, path: &str) -> StatusCode {
        self.get(path).await.status()
    }

    pub async fn get_text(&self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
    }

    /// Posts a form as-is (the caller supplies or omits `csrf`).
    pub async fn post_raw(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.client
            .post(format!("{}{}", self.base, path))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Posts a form with the CSRF token of the page at `form_page`.
    pub async fn post(&self, form_page: &str, path: &str, form: &[(&str, &str)]) -> Response {
        let csrf = self.csrf(form_page).await;
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        self.post_raw(path, &fields).await
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Response {
        self.sign_in_timed(email, password).await.0
    }

    /// The status of a sign-in as `email`.
    pub async fn sign_in_status(&self, email: &str, password: &str) -> StatusCode {
        self.sign_in(email, password).await.status()
    }

    /// Signs in; also returns how long the sign-in request itself took (the sign-in page
    /// with its CSRF token is fetched before the clock starts).
    pub async fn sign_in_timed(&self, email: &str, password: &str) -> (Response, Duration) {
        let csrf = self.csrf("/sign-in").await;
        let started = Instant::now();
        let response = self
            .post_raw(
                "/sign-in",
                &[("csrf", &csrf), ("email", email), ("password", password)],
            )
            .await;
        (response, started.elapsed())
    }

    pub async fn sign_out(&self) -> Response {
        self.post("/", "/sign-out", &[]).await
    }

    pub async fn create_app_password_with(&self, fields: &[(&str, &str)]) -> Response {
        self.post("/", "/app-passwords", fields).await
    }

    pub async fn create_app_password(&self, name: &str) -> Created {
        self.create_app_password_from(&[("name", name), ("expires", "never"), ("scope", "imap")])
            .await
    }

    /// Creates an app password with the form `fields`, which must be accepted: the post
    /// answers 303 to the page that shows the password once, which is fetched.
    pub async fn create_app_password_from(&self, fields: &[(&str, &str)]) -> Created {
        let response = self.create_app_password_with(fields).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{fields:?}");
        let shown = self.get(location(&response)).await;
        assert_eq!(shown.status(), StatusCode::OK, "the show-once page");
        let page = shown.text().await.unwrap();
        let re = Regex::new(r#"<code id="new-password">([^<]+)</code>"#).unwrap();
        let plaintext = re.captures(&page).expect("created page shows the password")[1].to_owned();
        Created { plaintext, page }
    }

    pub async fn revoke(&self, id: i64, reason: &str) -> Response {
        self.post(
            "/",
            &format!("/app-passwords/{id}/revoke"),
            &[("reason", reason)],
        )
        .await
    }

    pub async fn revoke_all(&self) -> Response {
        self.post(
            "/",
            "/app-passwords/revoke-all",
            &[("reason", "lost laptop")],
        )
        .await
    }

    pub async fn change_password(
        &self,
        current: &str,
        new: &str,
        confirm: &str,
        revoke_all: bool,
    ) -> Response {
        let mut form = vec![("current", current), ("new", new), ("confirm", confirm)];
        if revoke_all {
            form.push(("revoke_app_passwords", "yes"));
        }
        self.post("/account", "/account/password", &form).await
    }

    /// Rotates the main password from `PASSWORD` to `NEW_PASSWORD`.
    pub async fn rotate(&self, revoke_all: bool) -> Response {
        use crate::app::{NEW_PASSWORD, PASSWORD};
        self.change_password(PASSWORD, NEW_PASSWORD, NEW_PASSWORD, revoke_all)
            .await
    }

    /// Fails unless a GET of `path` answers `expected`; `why` says what that shows.
    pub async fn assert_status(&self, path: &str, expected: StatusCode, why: &str) {
        assert_eq!(self.get_status(path).await, expected, "GET {path}: {why}");
    }

    pub async fn set_main_imap(&self, allowed: bool) -> Response {
        let form: &[(&str, &str)] = if allowed { &[("allowed", "yes")] } else { &[] };
        self.post("/account", "/account/imap", form).await
    }
}

/// The page of a form post refused as unprocessable, which must say `message`; `context`
/// names the case in a failure.
pub async fn refused_page(response: Response, message: &str, context: &str) -> String {
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "{context}"
    );
    let page = response.text().await.unwrap();
    assert!(
        page.contains(message),
        "{context}: expected {message:?} in {page}"
    );
    page
}

pub fn location(response: &Response) -> &str {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// An `href` as a browser reads it: askama writes `&` as `&#38;` (or `&amp;` where the
/// template has it literally).
pub fn href(attribute: &str) -> String {
    attribute.replace("&#38;", "&").replace("&amp;", "&")
}
