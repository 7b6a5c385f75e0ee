//! How an [`AppError`] is shown. Internals are logged once, here; the client sees a short,
//! safe message: on a page that carries the same security headers as any other, or, under
//! `/api/`, as JSON problem details.

use std::borrow::Cow;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::routes::Page;
use crate::error::AppError;

/// The status and the safe message of each kind of error.
fn status_and_message(error: &AppError) -> (StatusCode, Cow<'static, str>) {
    let (status, message) = match error {
            AppError::BadText(refused) => {
                return (StatusCode::UNPROCESSABLE_ENTITY, refused.to_string().into())
            }
            AppError::Invalid(why) => {
                return (StatusCode::UNPROCESSABLE_ENTITY, why.clone().into())
            }
            AppError::NotFound => (StatusCode::NOT_FOUND, "There is nothing here."),
            AppError::BearerRequired(why) => (StatusCode::UNAUTHORIZED, *why),
            AppError::Conflict(why) => (StatusCode::CONFLICT, *why),
            AppError::Forbidden(why) => (StatusCode::FORBIDDEN, *why),
            AppError::LinkExpired => (
                StatusCode::GONE,
                "This setup link was already used or has expired. If no administrator exists yet, restart Mailkeys: each start prints a fresh link. If one exists, sign in instead.",
            ),
            AppError::SignInRequired => (StatusCode::UNAUTHORIZED, "Please sign in."),
            AppError::SessionEnded(_) => (
                StatusCode::UNAUTHORIZED,
                "Your session ended. Please sign in again.",
            ),
            AppError::SecondFactorRequired => (
                StatusCode::FORBIDDEN,
                "Your administrator requires a second factor: set one up on /account/second-factor first.",
            ),
            AppError::NotSignedIn => (
                StatusCode::UNAUTHORIZED,
                "Sign in first: send the session cookie, and the X-CSRF-Token header from GET /api/me with each POST.",
            ),
            AppError::TooManyRequests => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts. Please wait a minute and try again.",
            ),
            AppError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "That request was too large.",
            ),
            AppError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Mailkeys cannot reach its database right now. Nothing was changed; please try again shortly.",
            ),
            AppError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side. Nothing was changed; please try again.",
            ),
        };
    (status, message.into())
}

#[derive(Template)]
#[template(path = "error.page.html")]
pub struct ErrorPage<'a> {
    pub status: u16,
    pub message: &'a str,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match &self {
            Self::SignInRequired => return Page::SignIn.redirect().into_response(),
            Self::SessionEnded(back) => {
                return super::session_end::sign_in_again(back.as_ref()).into_response()
            }
            Self::SecondFactorRequired => return Page::Security.redirect().into_response(),
            Self::Unavailable(err) => tracing::warn!(error = ?err, "database unavailable"),
            Self::Internal(err) => tracing::error!(error = ?err, "internal error"),
            _ => {}
        }
        let (status, message) = status_and_message(&self);
        let mut response = render_error(status, &message);
        if matches!(self, Self::BearerRequired(_)) {
            // RFC 6750: a 401 names the scheme the client should use.
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"mailkeys\""),
            );
        }
        response
    }
}

/// The safe message of an error response, kept with it so that `/api/` routes can answer
/// in JSON instead of HTML ([`api_problems`]).
#[derive(Clone, Debug)]
pub struct ErrorMessage(pub String);

/// Renders the error page; used by [`AppError`] and by the fallbacks for 404 and panics.
pub fn render_error(status: StatusCode, message: &str) -> Response {
    let page = ErrorPage {
        status: status.as_u16(),
        message,
    };
    let mut response = match page.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(_) => (status, message.to_owned()).into_response(),
    };
    response
        .extensions_mut()
        .insert(ErrorMessage(message.to_owned()));
    response
}

/// For `/api/` paths, turns an error page into RFC 9457 problem details
/// (`application/problem+json`: type, title, status, detail), the same status and message;
/// every other path keeps its HTML page.
pub async fn api_problems(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let response = next.run(req).await;
    if !is_api {
        return response;
    }
    // The router's own 405 (a method the path does not take) has no message of ours.
    let message = response
        .extensions()
        .get::<ErrorMessage>()
        .cloned()
        .or_else(|| {
            (response.status() == StatusCode::METHOD_NOT_ALLOWED)
                .then(|| ErrorMessage("This path does not take this method.".to_owned()))
        });
    let Some(ErrorMessage(detail)) = message else {
        return response;
    };
    let status = response.status();
    let problem = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/problem+json"),
    );
    Response::from_parts(parts, axum::body::Body::from(problem.to_string()))
}
