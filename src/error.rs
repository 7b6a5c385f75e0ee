//! The one error type handlers return. Internals are logged once, here; the client sees a
//! short, safe message: on a page that carries the same security headers as any other, or,
//! under `/api/`, as JSON problem details.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::web::routes::Page;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("request refused: {0}")]
    Forbidden(&'static str),
    #[error("sign-in required")]
    SignInRequired,
    /// Like `SignInRequired`, for scripts: a 401 rather than a redirect to a form.
    #[error("not signed in")]
    NotSignedIn,
    #[error("link used or expired")]
    LinkExpired,
    #[error("too many requests")]
    TooManyRequests,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    fn status_and_message(&self) -> (StatusCode, &'static str) {
        match self {
            Self::NotFound => (StatusCode::NOT_FOUND, "There is nothing here."),
            Self::Forbidden(why) => (StatusCode::FORBIDDEN, why),
            Self::LinkExpired => (
                StatusCode::GONE,
                "This link was already used or has expired. Restart `mailkeys serve` to print a new one.",
            ),
            Self::SignInRequired => (StatusCode::UNAUTHORIZED, "Please sign in."),
            Self::NotSignedIn => (
                StatusCode::UNAUTHORIZED,
                "Sign in first: send the session cookie, and the X-CSRF-Token header from GET /api/me with each POST.",
            ),
            Self::TooManyRequests => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts. Please wait a minute and try again.",
            ),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "That request was too large.",
            ),
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Mailkeys cannot reach its database right now. Nothing was changed; please try again shortly.",
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side. Nothing was changed; please try again.",
            ),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        if crate::store::is_unavailable(&err) {
            Self::Unavailable(err.into())
        } else {
            Self::Internal(err.into())
        }
    }
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
            Self::Unavailable(err) => tracing::warn!(error = ?err, "database unavailable"),
            Self::Internal(err) => tracing::error!(error = ?err, "internal error"),
            _ => {}
        }
        let (status, message) = self.status_and_message();
        render_error(status, message)
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
    let Some(ErrorMessage(detail)) = response.extensions().get::<ErrorMessage>().cloned() else {
        return response;
    };
    if !is_api {
        return response;
    }
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
