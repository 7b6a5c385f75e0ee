//! The audit log through the API: filtered pages, newest first, and the CSV or JSON Lines
//! export (`services::audit_log`, the filter of `services::audit_filter`).

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::openapi::Problem;
use super::{ApiQuery, ApiReader};
use crate::error::{AppError, AppResult};
use crate::services::audit_filter::{self, FilterInput};
use crate::services::audit_log::{self, ExportFormat};
use crate::store::audit_search::AuditFilter;
use crate::web::AppState;

/// Entries per page unless `limit` says otherwise, and the most a page holds.
const PAGE: i64 = 100;
const MAX_PAGE: i64 = 1000;

/// The audit filter; every field is optional.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilterParams {
    /// The account an entry is about (its email address).
    pub account: Option<String>,
    /// Who acted (an email address).
    pub actor: Option<String>,
    /// An event name, such as `app_password_revoked`.
    pub event: Option<String>,
    /// From this day (`2026-11-30`, UTC) or RFC 3339 time.
    pub since: Option<String>,
    /// Up to the end of this day, or before this RFC 3339 time.
    pub until: Option<String>,
    /// The client address of the entry.
    pub ip: Option<String>,
}

impl FilterParams {
    async fn resolve(&self, state: &AppState) -> AppResult<AuditFilter> {
        let input = FilterInput {
            account: self.account.clone(),
            actor: self.actor.clone(),
            event: self.event.clone(),
            since: self.since.clone(),
            until: self.until.clone(),
            ip: self.ip.clone(),
        };
        audit_filter::resolve(state, &input)
            .await?
            .map_err(AppError::Invalid)
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Entries older than this entry id: `older_than` of the previous page.
    pub before: Option<i64>,
    /// Entries per page, 1 to 1000 (default 100).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    /// Unix time.
    pub at: i64,
    pub event: String,
    /// Who acted (an email address); none for the operator at the command line.
    pub actor: Option<String>,
    /// The account it is about.
    pub subject: Option<String>,
    pub ip: Option<String>,
    /// In words; actions through the API name the token.
    pub detail: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page; none on the last page.
    pub older_than: Option<i64>,
}

/// Reads the audit log, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    params(FilterParams, PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of entries", body = AuditPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A filter is invalid", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn page(
    State(state): State<AppState>,
    ApiReader(_caller): ApiReader,
    ApiQuery(filter): ApiQuery<FilterParams>,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> AppResult<Json<AuditPage>> {
    let filter = filter.resolve(&state).await?;
    let limit = paging.limit.unwrap_or(PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::Invalid(format!(
            "limit: {limit} is not from 1 to {MAX_PAGE}"
        )));
    }
    let rows = audit_log::newest(&state, &filter, paging.before, limit).await?;
    let older_than = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|e| e.id))
        .flatten();
    let entries = rows
        .into_iter()
        .map(|e| AuditEntry {
            id: e.id,
            at: e.at,
            event: e.event,
            actor: e.actor,
            subject: e.subject,
            ip: e.ip,
            detail: e.detail,
        })
        .collect();
    Ok(Json(AuditPage {
        entries,
        older_than,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `csv` (with a header line) or `jsonl` (one JSON object per line).
    #[param(inline)]
    pub format: ExportFormat,
}

/// Exports every entry matching the filter, oldest first, streamed.
#[utoipa::path(
    get,
    path = "/api/v1/audit/export",
    tag = "audit",
    params(ExportParams, FilterParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The entries", content(
            (String = "text/csv"),
            (String = "application/jsonl"),
        )),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A filter or the format is invalid", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn export(
    State(state): State<AppState>,
    ApiReader(_caller): ApiReader,
    ApiQuery(export): ApiQuery<ExportParams>,
    ApiQuery(filter): ApiQuery<FilterParams>,
) -> AppResult<Response> {
    let filter = filter.resolve(&state).await?;
    Ok(crate::web::admin_audit::streamed(
        &state,
        filter,
        export.format,
    ))
}
