//! Admin → Audit log: every entry across accounts, filtered by account, actor, event, time
//! range and address, newest first in pages, and downloaded as CSV or JSON Lines with the
//! same filter (streamed, so a large log never sits in memory).

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio_stream::wrappers::ReceiverStream;

use super::format::timestamp;
use super::session::AdminUser;
use super::{AppState, Nav};
use crate::error::AppResult;
use crate::services::audit_filter::{self, FilterInput};
use crate::services::audit_log::{self, ExportFormat};
use crate::store::audit::Event;
use crate::store::audit_search::AuditEntry;

/// Entries per page of the admin view.
const PAGE: i64 = 100;

pub struct EntryView {
    pub id: i64,
    pub at: String,
    pub event: String,
    pub actor: String,
    pub subject: String,
    pub ip: String,
    pub detail: String,
}

impl From<AuditEntry> for EntryView {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id,
            at: timestamp(e.at),
            event: e.event.replace('_', " "),
            actor: e.actor.unwrap_or_else(|| "–".into()),
            subject: e.subject.unwrap_or_default(),
            ip: e.ip.unwrap_or_default(),
            detail: e.detail,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/audit.page.html")]
pub struct AuditPage {
    pub nav: Nav,
    pub input: FilterInput,
    pub events: Vec<&'static str>,
    pub entries: Vec<EntryView>,
    pub error: Option<String>,
    /// The query string of the filter (for the export and "older" links).
    pub query: String,
    /// The id to continue from for older entries, when there are more.
    pub older: Option<i64>,
    pub retention_days: u32,
}

#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(flatten)]
    input: FilterInput,
    /// An entry id (a string: numbers do not survive `serde(flatten)` in a query).
    #[serde(default)]
    before: Option<String>,
}

fn filter_query(input: &FilterInput) -> String {
    let pairs = [
        ("account", &input.account),
        ("actor", &input.actor),
        ("event", &input.event),
        ("since", &input.since),
        ("until", &input.until),
        ("ip", &input.ip),
    ];
    let given: Vec<(&str, &str)> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_deref().filter(|v| !v.is_empty()).map(|v| (*k, v)))
        .collect();
    serde_urlencoded::to_string(given).unwrap_or_default()
}

pub async fn show(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Query(query): Query<PageQuery>,
) -> AppResult<Response> {
    let resolved = audit_filter::resolve(&state, &query.input).await?;
    let before = query.before.as_deref().and_then(|b| b.parse::<i64>().ok());
    let (entries, error) = match &resolved {
        Ok(filter) => (audit_log::newest(&state, filter, before, PAGE).await?, None),
        Err(why) => (Vec::new(), Some(why.clone())),
    };
    let older = (entries.len() as i64 == PAGE)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    let page = AuditPage {
        nav: Nav::of(&admin),
        query: filter_query(&query.input),
        input: query.input,
        events: Event::ALL.iter().map(|e| e.as_str()).collect(),
        entries: entries.into_iter().map(EntryView::from).collect(),
        older,
        retention_days: state.settings.audit_retention_days,
        error,
    };
    let status = if resolved.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, page).into_response())
}

#[derive(Deserialize)]
pub struct ExportQuery {
    #[serde(flatten)]
    input: FilterInput,
    format: ExportFormat,
}

pub async fn export(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    Query(query): Query<ExportQuery>,
) -> AppResult<Response> {
    let filter = match audit_filter::resolve(&state, &query.input).await? {
        Ok(filter) => filter,
        Err(why) => return Ok((StatusCode::UNPROCESSABLE_ENTITY, why).into_response()),
    };
    Ok(streamed(&state, filter, query.format))
}

/// The export of everything matching `filter` as a download, streamed page by page (also
/// the JSON API's export).
pub(crate) fn streamed(
    state: &AppState,
    filter: crate::store::audit_search::AuditFilter,
    format: ExportFormat,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let services = state.services.clone();
    tokio::spawn(async move {
        let sink = |bytes: Vec<u8>| {
            let tx = tx.clone();
            async move { tx.send(Ok(bytes)).await.is_ok() }
        };
        if let Err(err) = audit_log::export(&services, &filter, format, sink).await {
            tracing::warn!(error = %err, "audit export stopped");
            // The reader sees a broken download rather than a silently short file.
            let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
        }
    });
    let disposition = format!(
        "attachment; filename=\"mailkeys-audit.{}\"",
        format.extension()
    );
    (
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(ReceiverStream::new(rx)),
    )
        .into_response()
}
