//! The Prometheus scrape endpoint, `GET /metrics`, on a listener of its own
//! (`metrics_listen`): nothing of the web UI is reachable there, and the series are not
//! reachable from the web UI's port.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::infra::metrics::Metrics;

pub const PATH: &str = "/metrics";
/// The OpenMetrics text format, which Prometheus asks for and reads.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub fn router(metrics: Metrics) -> Router {
    Router::new().route(PATH, get(scrape)).with_state(metrics)
}

async fn scrape(State(metrics): State<Metrics>) -> Response {
    match metrics.render() {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
