//! The live connection test in the browser and for scripts. The user picks one of the
//! configured servers (never a host of their own: no SSRF) and types a password; the
//! username is always their own. Rate-limited per user and per client IP, audited, and the
//! password is neither logged nor stored.

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::client_ip::ClientIp;
use super::format::timestamp;
use super::session::{CurrentSession, SignedIn};
use super::{AppState, Nav};
use crate::domain::Text;
use crate::error::{AppError, AppResult};
use crate::imap::{self, CheckReport, StepEvent, StepOutcome};
use crate::services::check;

pub struct StepView {
    pub label: &'static str,
    pub passed: bool,
    pub millis: u128,
    pub summary: String,
}

pub struct ResultView {
    pub server: String,
    pub success: bool,
    pub title: String,
    pub advice: String,
    /// What the check proved about the password, in one sentence.
    pub proven: &'static str,
    pub steps: Vec<StepView>,
    pub tls: Vec<(&'static str, String)>,
    pub total_ms: u128,
}

impl ResultView {
    fn of(report: &CheckReport) -> Self {
        let steps = report
            .steps
            .iter()
            .map(|s| StepView {
                label: s.label,
                passed: s.outcome == StepOutcome::Passed,
                millis: s.duration.as_millis(),
                summary: s.summary.clone(),
            })
            .collect();
        let mut tls = Vec::new();
        if let Some(info) = &report.tls {
            tls.push(("Protocol", info.protocol.clone()));
            if let Some(cert) = &info.certificate {
                tls.push(("Certificate for", cert.subject.clone()));
                tls.push(("Names", cert.names.join(", ")));
                tls.push(("Issued by", cert.issuer.clone()));
                tls.push(("Valid until", timestamp(cert.not_after)));
            }
            tls.push((
                "Valid for this server",
                if info.valid_for_host { "yes" } else { "no" }.to_owned(),
            ));
        }
        Self {
            server: format!("{} ({}:{})", report.server, report.host, report.port),
            success: report.verdict.is_success(),
            title: report.verdict.title(),
            advice: report.verdict.advice(),
            proven: report.proven.text(),
            steps,
            tls,
            total_ms: report.total.as_millis(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "check/index.page.html")]
pub struct CheckPage {
    pub nav: Nav,
    pub servers: Vec<String>,
    pub selected: usize,
    pub result: Option<ResultView>,
}

pub async fn page(State(state): State<AppState>, SignedIn(current): SignedIn) -> CheckPage {
    CheckPage {
        nav: Nav::of(&current),
        servers: server_names(&state),
        selected: 0,
        result: None,
    }
}

fn server_names(state: &AppState) -> Vec<String> {
    state
        .settings
        .check_targets()
        .into_iter()
        .map(|s| format!("{} ({}:{}, {})", s.name, s.host, s.port, s.tls.label()))
        .collect()
}

#[derive(Deserialize)]
pub struct CheckForm {
    #[serde(default)]
    server: usize,
    password: SecretString,
}

/// Checks the rate limits, then starts the check (see `services::check::start`).
async fn start(
    state: &AppState,
    current: &CurrentSession,
    ip: &str,
    server: usize,
    password: SecretString,
) -> AppResult<(mpsc::Receiver<StepEvent>, JoinHandle<CheckReport>)> {
    state.limits.check(&current.user.id.to_string(), ip)?;
    check::start(state, &current.user, ip, server, password).await
}

async fn finish(task: JoinHandle<CheckReport>) -> AppResult<CheckReport> {
    task.await.map_err(AppError::internal)
}

/// Without JavaScript: the form posts, the full result page comes back.
pub async fn run_form(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    ClientIp(ip): ClientIp,
    Form(form): Form<CheckForm>,
) -> AppResult<CheckPage> {
    let (_events, task) = start(&state, &current, &ip, form.server, form.password).await?;
    let report = finish(task).await?;
    Ok(CheckPage {
        nav: Nav::of(&current),
        servers: server_names(&state),
        selected: form.server,
        result: Some(ResultView::of(&report)),
    })
}

#[derive(Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum StreamLine<'a> {
    Result {
        html: &'a str,
        report: &'a CheckReport,
    },
}

#[derive(Template)]
#[template(path = "check/result.fragment.html")]
struct ResultFragment<'a> {
    result: &'a ResultView,
}

/// With JavaScript: newline-delimited JSON, one line per step event as it happens, then the
/// report with its rendered HTML (so the page shows exactly what the no-JS page shows).
pub async fn run_stream(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    ClientIp(ip): ClientIp,
    Form(form): Form<CheckForm>,
) -> AppResult<Response> {
    let (events, task) = start(&state, &current, &ip, form.server, form.password).await?;
    let lines = ndjson_lines(events, task);
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(lines));
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}

/// Forwards each step event as a JSON line while the check runs, then the last line: the
/// report and its HTML, or an error event if the check's task failed.
fn ndjson_lines(
    mut events: mpsc::Receiver<StepEvent>,
    task: JoinHandle<CheckReport>,
) -> mpsc::Receiver<Result<String, std::io::Error>> {
    let (tx, rx) = mpsc::channel::<Result<String, std::io::Error>>(imap::EVENT_CHANNEL_CAPACITY);
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            let line = serde_json::to_string(&event).unwrap_or_default() + "\n";
            if tx.send(Ok(line)).await.is_err() {
                break;
            }
        }
        let last = match task.await {
            Ok(report) => result_line(&report),
            Err(_) => r#"{"event":"error"}"#.to_owned(),
        };
        let _ = tx.send(Ok(last + "\n")).await;
    });
    rx
}

/// The stream's last line: the report with the same HTML the no-JS page shows.
fn result_line(report: &CheckReport) -> String {
    let view = ResultView::of(report);
    let html = ResultFragment { result: &view }
        .render()
        .unwrap_or_default();
    serde_json::to_string(&StreamLine::Result {
        html: &html,
        report,
    })
    .unwrap_or_default()
}

#[derive(Deserialize)]
pub struct CheckRequest {
    /// The server's name as configured; the first server when absent.
    server: Option<String>,
    password: SecretString,
}

/// For scripts: `POST /api/check` with `{"server": "…", "password": "…"}`.
pub async fn run_json(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    ClientIp(ip): ClientIp,
    Json(request): Json<CheckRequest>,
) -> AppResult<Response> {
    let targets = state.settings.check_targets();
    let index = match &request.server {
        None => 0,
        Some(name) => {
            let name = Text::parse(name, "The server")?;
            targets
                .iter()
                .position(|t| t.name == name.as_str())
                .ok_or(AppError::NotFound)?
        }
    };
    let (_events, task) = start(&state, &current, &ip, index, request.password).await?;
    let report = finish(task).await?;
    let status = if report.verdict.is_success() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, Json(report)).into_response())
}

#[derive(Serialize)]
pub struct Me {
    email: String,
    csrf_token: String,
    servers: Vec<String>,
}

/// For scripts: who is signed in, the token to send as `X-CSRF-Token`, and server names.
pub async fn me(State(state): State<AppState>, SignedIn(current): SignedIn) -> Json<Me> {
    Json(Me {
        email: current.user.email.clone(),
        csrf_token: current.session.csrf_token.clone(),
        servers: state.settings.check_target_names(),
    })
}
