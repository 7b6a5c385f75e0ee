//! Dovecot's auth-policy protocol, "report after auth" only: after every login attempt
//! Dovecot POSTs a JSON object built from `auth_policy_request_attributes`. Mailkeys records
//! the last use of the app password (its id comes through `%{passdb:credential_id}`),
//! counts failures per username and address, and adds the login to the login history. It
//! never vetoes a login: the answer is always status 0, and Dovecot is configured so that
//! logins go on when Mailkeys is down.
//!
//! This runs on a listener of its own (`policy_listen`, loopback only unless
//! `policy_allow_remote`) and every request must carry the shared secret header Dovecot is
//! configured to send (at least [`MIN_SECRET_CHARS`] characters, compared in constant time
//! before the body is read; wrong secrets are limited per address, see `policy_guard`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::policy_guard::WrongSecrets;
use crate::domain::AppPasswordId;
use crate::infra::metrics::PolicyReport;
use crate::services::Services;
use crate::store::dovecot_reports::{self, ReportKind};
use crate::store::imap_logins::{self, Use};
use crate::store::login_history::{self, NewLogin};

/// The header Dovecot sends (`auth_policy_server_api_header = X-Mailkeys-Policy-Secret:…`).
pub const SECRET_HEADER: &str = "x-mailkeys-policy-secret";
pub const PATH: &str = "/dovecot/auth-policy";
/// Largest report body read (a report is a few hundred bytes); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 4 * 1024;
/// Shortest `policy_secret` start-up accepts (`mailkeys dovecot config` generates 32).
pub const MIN_SECRET_CHARS: usize = 32;

#[derive(Clone)]
struct Policy {
    services: Services,
    wrong_secrets: Arc<WrongSecrets>,
}

/// The listener's routes; serve them with `into_make_service_with_connect_info::<SocketAddr>`
/// (wrong secrets are counted per source address).
pub fn router(state: Services) -> Router {
    let policy = Policy {
        services: state,
        wrong_secrets: Arc::default(),
    };
    Router::new().route(PATH, post(report)).with_state(policy)
}

/// The fields Mailkeys asks Dovecot for; anything else in the body is ignored.
#[derive(Debug, Deserialize)]
pub struct Report {
    #[serde(default)]
    user: String,
    #[serde(default)]
    remote: String,
    #[serde(default)]
    protocol: String,
    #[serde(default)]
    credential_id: String,
    /// Present on reports after authentication.
    success: Option<bool>,
}

fn authorised(state: &Services, headers: &HeaderMap) -> bool {
    let Some(secret) = state.settings.policy_secret.as_ref() else {
        return false;
    };
    headers
        .get(SECRET_HEADER)
        // Dovecot sends whatever follows the colon in its setting, a leading space included.
        .and_then(|given| given.to_str().ok())
        .is_some_and(|given| {
            bool::from(
                given
                    .trim()
                    .as_bytes()
                    .ct_eq(secret.expose_secret().as_bytes()),
            )
        })
}

fn refusal(status: StatusCode, msg: &str) -> Response {
    (status, Json(json!({"status": -1, "msg": msg}))).into_response()
}

/// In this order, so that nobody without the secret makes Mailkeys read a byte of body: an
/// address past its wrong secrets is refused (429), then the secret is checked (401), then
/// at most [`MAX_BODY_BYTES`] are read (413) and parsed (400).
async fn report(
    State(policy): State<Policy>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let state = &policy.services;
    let now = Instant::now();
    if policy.wrong_secrets.blocked(peer.ip(), now) {
        return refusal(StatusCode::TOO_MANY_REQUESTS, "too many wrong secrets");
    }
    if !authorised(state, &headers) {
        policy.wrong_secrets.failed(peer.ip(), now);
        // Remembered for the self-check: a wrong secret is a misconfiguration to name.
        state.metrics.policy_report(PolicyReport::Refused);
        note_report(state, ReportKind::Refused).await;
        return refusal(StatusCode::UNAUTHORIZED, "unauthorised");
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return refusal(StatusCode::PAYLOAD_TOO_LARGE, "report too large");
    };
    let Ok(report) = serde_json::from_slice::<Report>(&bytes) else {
        return refusal(StatusCode::BAD_REQUEST, "not a report");
    };
    state.metrics.policy_report(PolicyReport::Accepted);
    note_report(state, ReportKind::Accepted).await;
    if let Err(err) = record(state, &report).await {
        // Logins are not ours to block: log, and answer as usual.
        tracing::warn!(error = %err, "could not record a Dovecot login report");
    }
    Json(json!({"status": 0, "msg": ""})).into_response()
}

/// Writes when reports last arrived (at most once a second per kind), for the self-check.
async fn note_report(state: &Services, kind: ReportKind) {
    let now = state.now();
    if state.dovecot_status.report_needs_writing(kind, now) {
        if let Err(err) = dovecot_reports::record(&state.db, kind, now).await {
            tracing::warn!(error = %err, "could not note a Dovecot policy report");
        }
    }
}

/// Everything a report changes, in one transaction: one commit (and, on PostgreSQL, one
/// log flush) per login instead of three.
async fn record(state: &Services, report: &Report) -> Result<(), sqlx::Error> {
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let username = report.user.to_ascii_lowercase();
    match report.success {
        Some(true) => {
            if let Ok(credential_id) = report.credential_id.parse::<i64>().map(AppPasswordId) {
                let used = Use {
                    credential_id,
                    username: &username,
                    ip: &report.remote,
                    protocol: &report.protocol,
                    now,
                };
                imap_logins::record_use(&mut tx, used).await?;
            }
        }
        Some(false) if !username.is_empty() => {
            imap_logins::record_failure(&mut tx, &username, &report.remote, now).await?;
        }
        _ => {}
    }
    // The login history (a user's recent logins, the admin's activity chart): one insert.
    if let Some(succeeded) = report.success {
        let login = NewLogin {
            username: &username,
            credential_id: report.credential_id.parse::<i64>().ok(),
            ip: &report.remote,
            protocol: &report.protocol,
            succeeded,
            now,
        };
        login_history::record(&mut tx, login).await?;
    }
    tx.commit().await
}
