//! Bulk revocation through the API: a dry run answers at once with the count and the
//! accounts; a run starts the same job as the web page (`services::bulk_jobs`: batches of
//! short transactions in a task of its own, so no request timeout cuts it short) and answers
//! 202 with the job, whose progress `GET /api/v1/bulk-revoke/{job}` reads.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::openapi::Problem;
use super::{ApiJson, ApiPath, ApiReader, ApiWriter};
use crate::domain::Text;
use crate::error::{AppError, AppResult};
use crate::services::bulk_jobs::{self, Job};
use crate::services::bulk_revoke::{self, BulkResult};
use crate::services::credentials::clean_reason;
use crate::web::admin_bulk::FilterForm;
use crate::web::AppState;

/// Which live app passwords to revoke across accounts; at least one filter.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct BulkRequest {
    /// Created before this day (`2026-11-30`, UTC).
    #[serde(default)]
    pub created_before: Option<String>,
    /// Last used from this address or range (`192.0.2.0/24`).
    #[serde(default)]
    pub used_from: Option<String>,
    /// Not used for this many days.
    #[serde(default)]
    pub unused_days: Option<u32>,
    /// Of accounts of this domain (`example.org`).
    #[serde(default)]
    pub domain: Option<String>,
    /// Of this scope: `imap` or `imap+smtp`.
    #[serde(default)]
    pub scope: Option<String>,
    /// Only count what would be revoked, and for whom; change nothing.
    pub dry_run: bool,
    /// Why (for the audit log); used when not a dry run.
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkAccount {
    pub email: String,
    pub app_passwords: u64,
}

/// What a dry run found.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkPreview {
    /// App passwords that would be revoked.
    pub total: u64,
    pub accounts: Vec<BulkAccount>,
}

impl BulkPreview {
    fn of(result: BulkResult) -> Self {
        Self {
            total: result.total,
            accounts: result
                .accounts
                .into_iter()
                .map(|(email, app_passwords)| BulkAccount {
                    email,
                    app_passwords,
                })
                .collect(),
        }
    }
}

/// A bulk revocation job and its progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkJob {
    pub id: i64,
    /// `running`, `done`, `failed` or `interrupted` (its process stopped first).
    pub state: String,
    /// The filters in words.
    pub filter: String,
    pub reason: String,
    /// App passwords the count before the start found.
    pub matched: i64,
    /// Revoked so far.
    pub revoked: i64,
    /// Accounts touched so far.
    pub accounts: i64,
    /// Transactions so far (at most 500 app passwords each).
    pub batches: i64,
    /// Accounts whose live IMAP sessions Dovecot could not be asked to close.
    pub not_kicked: i64,
    pub percent: i64,
    /// Unix times.
    pub started_at: i64,
    pub finished_at: Option<i64>,
}

impl BulkJob {
    fn of(job: Job) -> Self {
        Self {
            id: job.id,
            state: job.state.label().to_owned(),
            percent: job.percent(),
            filter: job.filter,
            reason: job.reason,
            matched: job.matched,
            revoked: job.revoked,
            accounts: job.accounts,
            batches: job.batches,
            not_kicked: job.not_kicked,
            started_at: job.started_at,
            finished_at: job.finished_at,
        }
    }
}

/// With `dry_run`, counts the live app passwords matching the filters, of the accounts the
/// token's creator may act on, and names the accounts; without, starts revoking them.
#[utoipa::path(
    post,
    path = "/api/v1/bulk-revoke",
    tag = "actions",
    request_body = BulkRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The dry run: what would be revoked", body = BulkPreview),
        (status = 202, description = "The run started; its job (also at the Location)", body = BulkJob),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A filter is invalid, or none is given", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn start(
    State(state): State<AppState>,
    ApiWriter(caller): ApiWriter,
    ApiJson(body): ApiJson<BulkRequest>,
) -> AppResult<Response> {
    let text = |value: &Option<String>| -> AppResult<String> {
        Ok(Text::parse(value.as_deref().unwrap_or(""), "A filter")?.into_string())
    };
    let form = FilterForm {
        created_before: text(&body.created_before)?,
        used_from: text(&body.used_from)?,
        unused_days: body.unused_days.map(|d| d.to_string()).unwrap_or_default(),
        domain: text(&body.domain)?,
        scope: text(&body.scope)?,
    };
    let filter = form.parse().map_err(AppError::Invalid)?;
    let actor = caller.actor();
    if body.dry_run {
        let found = bulk_revoke::dry_run(&state, &filter, actor.role).await?;
        return Ok(Json(BulkPreview::of(found)).into_response());
    }
    let reason = clean_reason(&Text::parse(&body.reason, "The reason")?);
    let id = bulk_jobs::start(&state, filter, &actor, reason).await?;
    let job = bulk_jobs::find(&state, id).await?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/api/v1/bulk-revoke/{id}"))],
        Json(BulkJob::of(job)),
    )
        .into_response())
}

/// A bulk revocation job's progress.
#[utoipa::path(
    get,
    path = "/api/v1/bulk-revoke/{job}",
    tag = "actions",
    params(("job" = i64, Path, description = "The job's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The job", body = BulkJob),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn job(
    State(state): State<AppState>,
    ApiReader(_caller): ApiReader,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<BulkJob>> {
    Ok(Json(BulkJob::of(bulk_jobs::find(&state, id).await?)))
}
