//! HTTP: handlers by area, and the layers every request passes through.
//!
//! Order of the layers, outermost first: security headers (so even a 413 or a panic page
//! carries them), panic catcher, tracing, body limit, session loading, CSRF check.

pub mod account;
pub mod admin;
pub mod admin_dovecot;
pub mod auth;
pub mod check;
pub mod client_ip;
pub mod csrf;
pub mod dashboard;
pub mod format;
pub mod headers;
pub mod notice;
pub mod rate_limit;
pub mod session;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

use crate::error::{render_error, AppError};
use crate::services::Services;

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
    let routes = Router::new()
        .route("/", get(dashboard::index))
        .route("/app-passwords", post(dashboard::create))
        .route(
            "/app-passwords/{id}/revoke",
            get(dashboard::confirm_revoke).post(dashboard::revoke),
        )
        .route(
            "/app-passwords/{id}/edit",
            get(dashboard::edit_page).post(dashboard::edit),
        )
        .route(
            "/app-passwords/revoke-all",
            get(dashboard::confirm_revoke_all).post(dashboard::revoke_all),
        )
        .route("/account", get(account::index))
        .route("/account/password", post(account::change_password))
        .route("/account/imap", post(account::set_main_imap))
        .route("/check", get(check::page).post(check::run_form))
        .route("/check/stream", post(check::run_stream))
        .route("/api/check", post(check::run_json))
        .route("/api/me", get(check::me))
        .route("/admin", get(admin::users))
        .route("/admin/dovecot", get(admin_dovecot::show))
        .route("/admin/dovecot/check", post(admin_dovecot::check))
        .route("/admin/users/{id}", get(admin::user))
        .route("/admin/users/{id}/revoke-all", post(admin::revoke_all))
        .route("/admin/users/{id}/end-sessions", post(admin::end_sessions))
        .route("/admin/users/{id}/flags", post(admin::set_flag))
        .route(
            "/admin/users/{id}/app-passwords/{password_id}/revoke",
            post(admin::revoke_one),
        )
        .route("/sign-in", get(auth::sign_in_page).post(auth::sign_in))
        .route("/sign-out", post(auth::sign_out))
        .route("/sign-out-everywhere", post(auth::sign_out_everywhere))
        .route("/setup/{token}", get(auth::setup_page).post(auth::setup))
        .route("/healthz", get(|| async { "ok" }))
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
        .layer(middleware::from_fn(crate::error::api_problems));
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
