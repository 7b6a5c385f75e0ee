//! HTTP: handlers by area, and the layers every request passes through.
//!
//! Order of the layers, outermost first: security headers (so even a 413 or a panic page
//! carries them), panic catcher, tracing, request time limit, body limit, session loading,
//! CSRF check. The listener's own limits (connections, header timeout) are in [`listener`].

pub mod account;
pub mod activity;
pub mod admin;
pub mod admin_accounts;
pub mod admin_activity;
pub mod admin_api_tokens;
pub mod admin_attempts;
pub mod admin_audit;
pub mod admin_bulk;
pub mod admin_compromise;
pub mod admin_confirm;
pub mod admin_dovecot;
pub mod admin_notices;
pub mod api;
pub mod auth;
pub mod chart;
pub mod check;
pub mod client_ip;
pub mod csrf;
pub mod dashboard;
pub mod error_response;
pub mod format;
pub mod headers;
pub mod health;
pub mod invitations;
pub mod listener;
pub mod mail_setup;
pub mod metrics;
pub mod new_password;
pub mod notice;
pub mod password_edit;
pub mod rate_limit;
pub mod routes;
pub mod second_factor;
pub mod security;
pub mod session;
pub mod session_end;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

use crate::error::AppError;
use crate::services::Services;
use error_response::render_error;

/// What the handlers share: the services (reached through `Deref`: `state.db`,
/// `state.settings`, `state.now()` …) and the web's own per-instance rate limits.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub limits: Arc<rate_limit::RateLimits>,
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}

pub fn router(state: AppState) -> Router {
    let max_body = state.settings.max_body_bytes;
    let request_timeout = std::time::Duration::from_secs(state.settings.http_request_timeout_secs);
    // The table's routes, then what is not a route of the table: the static files and
    // the 404 for everything else.
    let routes = routes::router()
        .nest_service(
            "/static",
            tower::ServiceBuilder::new()
                .layer(headers::static_cache_control())
                .service(ServeDir::new(static_dir())),
        )
        .fallback(|| async { AppError::NotFound });

    let routes = routes
        .layer(middleware::from_fn_with_state(state.clone(), csrf::verify))
        .layer(middleware::from_fn_with_state(state.clone(), session::load))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(RequestBodyLimitLayer::new(max_body))
        // The whole request, body reading included; a transaction cut short rolls back.
        .layer(middleware::from_fn(
            move |req: Request, next: middleware::Next| async move {
                match tokio::time::timeout(request_timeout, next.run(req)).await {
                    Ok(response) => response,
                    Err(_) => {
                        tracing::warn!("request stopped after http_request_timeout_secs");
                        render_error(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "That took too long and was stopped. Reload the page to see whether it went through.",
                        )
                    }
                }
            },
        ))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            // The matched route, never the raw path: a setup link's token must not be logged.
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map_or("unmatched", |p| p.as_str())
                .to_owned();
            tracing::info_span!("request", method = %req.method(), route)
        }))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            render_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side.",
            )
        }))
        .layer(middleware::from_fn(error_response::api_problems));
    headers::apply(routes, state.settings.is_https()).with_state(state)
}

/// `static/` next to the binary's working directory, or beside the crate when run by cargo.
fn static_dir() -> std::path::PathBuf {
    let here = std::path::PathBuf::from("static");
    if here.is_dir() {
        here
    } else {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static")
    }
}

/// What the page layout needs about the signed-in user.
pub struct Nav {
    pub email: String,
    pub is_admin: bool,
    pub csrf: String,
}

impl Nav {
    pub fn of(current: &session::CurrentSession) -> Self {
        Self {
            email: current.user.email.clone(),
            is_admin: current.user.is_admin,
            csrf: current.session.csrf_token.clone(),
        }
    }
}
