//! When a browser's session has ended (idle or absolute timeout, signed out elsewhere): the
//! request still carries the old cookie, so Mailkeys can say plainly "your session ended"
//! on the sign-in page and, after sign-in, send the browser back where it was. A form posted
//! after the end comes back filled in with what is safe to keep (an app password's name,
//! expiry, use and networks; never a password).

use axum::http::request::Parts;
use axum::response::Redirect;
use serde::{Deserialize, Serialize};

use super::routes::Page;
use crate::domain::LocalPath;

/// Request extension: the request carried a session cookie that names no live session.
#[derive(Clone, Copy, Debug)]
pub struct SessionEnded;

/// The sign-in page's query.
#[derive(Deserialize, Serialize, Default)]
pub struct SignInQuery {
    /// Set when the session ended: the page says so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ended: bool,
    /// Where to go after signing in (checked with [`LocalPath`] before use).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next: String,
}

/// The sign-in page that says the session ended, returning to `next` after sign-in.
pub fn sign_in_again(next: Option<&LocalPath>) -> Redirect {
    let query = SignInQuery {
        ended: true,
        next: next.map(|p| p.as_str().to_owned()).unwrap_or_default(),
    };
    match serde_urlencoded::to_string(&query) {
        Ok(query) => Redirect::to(&format!("{}?{query}", Page::SignIn.path())),
        Err(_) => Page::SignIn.redirect(),
    }
}

/// The page a GET was for, to come back to after sign-in (none for the dashboard, where
/// signing in leads anyway).
pub fn this_page(parts: &Parts) -> Option<LocalPath> {
    parts
        .uri
        .path_and_query()
        .filter(|p| p.as_str() != "/")
        .and_then(|p| LocalPath::parse(p.as_str()))
}

/// Fields of the create form that are safe to carry through a URL: no secret among them.
const KEPT_CREATE_FIELDS: [&str; 4] = ["name", "expires", "scope", "allowed_nets"];

/// Where a form posted to `path` after the session ended goes after sign-in: the page the
/// form is on, with the create form's safe fields filled in again.
pub fn return_after_post(path: &str, body: &[u8]) -> Option<LocalPath> {
    let page = if path == "/app-passwords" {
        let typed: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        let kept: Vec<(String, String)> = typed
            .into_iter()
            .filter(|(field, value)| {
                KEPT_CREATE_FIELDS.contains(&field.as_str()) && !value.is_empty()
            })
            .collect();
        let query = serde_urlencoded::to_string(&kept).unwrap_or_default();
        if query.is_empty() {
            "/#create".to_owned()
        } else {
            format!("/?{query}#create")
        }
    } else if path.starts_with("/account") {
        "/account".to_owned()
    } else if path.starts_with("/check") {
        "/check".to_owned()
    } else if let Some(rest) = path.strip_prefix("/admin/users/") {
        // The admin's page of that account.
        let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
        format!("/admin/users/{id}")
    } else if path.starts_with("/admin/dovecot") {
        "/admin/dovecot".to_owned()
    } else {
        "/".to_owned()
    };
    LocalPath::parse(&page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_create_form_comes_back_without_its_secrets() {
        let back = return_after_post(
            "/app-passwords",
            b"csrf=old&name=Ph%C3%B6ne+1&expires=never&scope=imap%2Bsmtp&password=secret",
        )
        .unwrap();
        assert_eq!(
            back.as_str(),
            "/?name=Ph%C3%B6ne+1&expires=never&scope=imap%2Bsmtp#create"
        );
        assert_eq!(
            return_after_post("/account/password", b"current=x&new=y")
                .unwrap()
                .as_str(),
            "/account"
        );
        assert_eq!(
            return_after_post("/admin/users/12/flags", b"")
                .unwrap()
                .as_str(),
            "/admin/users/12"
        );
    }

    #[test]
    fn the_sign_in_link_carries_the_return_path_encoded() {
        let next = LocalPath::parse("/?name=a&scope=imap#create");
        let redirect = sign_in_again(next.as_ref());
        let location = axum::response::IntoResponse::into_response(redirect);
        let location = location.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(
            location,
            "/sign-in?ended=true&next=%2F%3Fname%3Da%26scope%3Dimap%23create"
        );
    }
}
