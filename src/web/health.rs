//! `/readyz`: the readiness checks as plain text, one line per check, 200 when every check
//! passed and 503 otherwise (`/healthz` only says the process answers).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::services::health;

pub async fn ready(State(state): State<AppState>) -> Response {
    let readiness = health::readiness(&state).await;
    let (status, mut body) = if readiness.is_ready() {
        (StatusCode::OK, String::from("ready\n"))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, String::from("not ready\n"))
    };
    for check in &readiness.checks {
        let line = match &check.problem {
            None => format!("{}: ok\n", check.name),
            Some(problem) => format!("{}: {problem}\n", check.name),
        };
        body.push_str(&line);
    }
    (status, body).into_response()
}
