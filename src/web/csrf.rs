//! CSRF protection for every state-changing request, applied as a middleware so that a new
//! route is protected without anyone remembering to.
//!
//! Signed-in forms carry the session's token (synchroniser pattern). Forms shown before
//! sign-in (sign-in, first-admin setup) carry the value of a random cookie set with the
//! form (double submit; the cookie is SameSite=Strict and HttpOnly). The token travels in
//! the form field `csrf` or, for scripts, the `X-CSRF-Token` header. The JSON API
//! (`/api/v1`) is not a form: it takes a bearer token and no cookie, and is refused here
//! without one (401).

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use subtle::ConstantTimeEq;

use super::session::{hardened_cookie, CurrentSession, PendingSecondFactor};
use super::{session_end, AppState};
use crate::error::{AppError, AppResult};
use crate::infra::random::random_token;

pub const FIELD: &str = "csrf";
pub const HEADER: &str = "x-csrf-token";

pub fn anon_cookie_name(state: &AppState) -> &'static str {
    if state.settings.is_https() {
        "__Host-mailkeys-csrf"
    } else {
        "mailkeys-csrf"
    }
}

/// The token for a form shown to a visitor, setting the cookie it must match if needed.
pub fn anon_token(state: &AppState, jar: CookieJar) -> AppResult<(CookieJar, String)> {
    if let Some(existing) = jar.get(anon_cookie_name(state)) {
        let value = existing.value().to_owned();
        return Ok((jar, value));
    }
    let token = random_token().map_err(AppError::internal)?;
    let jar = jar.add(hardened_cookie(
        state,
        anon_cookie_name(state),
        token.clone(),
    ));
    Ok((jar, token))
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub async fn verify(
    State(state): State<AppState>,
    jar: CookieJar,
    req: Request,
    next: Next,
) -> Response {
    if is_safe(req.method()) {
        return next.run(req).await;
    }
    if req.uri().path().starts_with(super::api::PREFIX) {
        // The JSON API takes bearer tokens only, never the session cookie, so there is no
        // forged request to refuse; one without a token is refused here already.
        return if carries_api_token(&req) {
            next.run(req).await
        } else {
            AppError::BearerRequired(super::api::MISSING).into_response()
        };
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, state.settings.max_body_bytes).await else {
        return AppError::PayloadTooLarge.into_response();
    };
    match check(&state, &jar, &parts, &bytes) {
        Ok(()) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        // A form posted after the session ended (the browser still sends the old cookie):
        // to the sign-in page that says so, coming back to the form, filled in, after.
        Err(_) if ended_in_browser(&parts) => session_end::sign_in_again(
            session_end::return_after_post(parts.uri.path(), &bytes).as_ref(),
        )
        .into_response(),
        Err(err) => err.into_response(),
    }
}

/// A bearer token in the `Authorization` header. A browser cannot be made to send
/// someone's bearer token across sites, unlike a cookie.
fn carries_api_token(req: &Request) -> bool {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| super::api::bearer_of(v).is_some())
}

fn ended_in_browser(parts: &Parts) -> bool {
    parts
        .extensions
        .get::<session_end::SessionEnded>()
        .is_some()
        && !parts.uri.path().starts_with("/api/")
}

fn check(state: &AppState, jar: &CookieJar, parts: &Parts, bytes: &[u8]) -> AppResult<()> {
    // A session waiting for its second factor posts that step's forms with its own token.
    let pending = parts.extensions.get::<PendingSecondFactor>().map(|p| &p.0);
    let expected = match parts.extensions.get::<CurrentSession>().or(pending) {
        Some(current) => current.session.csrf_token.clone(),
        None => jar
            .get(anon_cookie_name(state))
            .map(|c| c.value().to_owned())
            .ok_or(AppError::Forbidden(EXPIRED))?,
    };
    let from_header = parts
        .headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let from_form = if is_form {
        form_field(bytes, FIELD)
    } else {
        None
    };
    let presented = from_header
        .or(from_form)
        .ok_or(AppError::Forbidden(EXPIRED))?;
    if !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(AppError::Forbidden(EXPIRED));
    }
    Ok(())
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

const EXPIRED: &str =
    "This form has expired or did not come from Mailkeys. Go back, reload the page and try again.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_field_is_found_among_others() {
        assert_eq!(
            form_field(b"name=a&csrf=xyz&b=2", "csrf").as_deref(),
            Some("xyz")
        );
    }

    #[test]
    fn a_body_without_the_field_yields_nothing() {
        assert_eq!(form_field(b"name=a", "csrf"), None);
    }
}
