//! Admin → Bulk revocation: filters, a preview of how many app passwords would be revoked
//! and whose (a dry run), and the run after confirmation, as a job whose page shows its
//! progress and refreshes itself until it is done (`services::bulk_revoke`, `bulk_jobs`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use secrecy::SecretString;
use serde::Deserialize;
use time::macros::format_description;
use time::Date;

use super::admin_confirm::recheck;
use super::client_ip::ClientIp;
use super::format::Moment;
use super::routes::Page;
use super::session::AdminUser;
use super::{AppState, Nav};
use crate::domain::{Scope, Text};
use crate::error::AppResult;
use crate::services::admin::{factor_given_recently, signed_in_recently};
use crate::services::bulk_jobs::{self, Job, JobState};
use crate::services::bulk_revoke::{self, BulkFilter, BulkResult};
use crate::services::credentials::clean_reason;

/// The filters as typed (all optional).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FilterForm {
    #[serde(default)]
    pub created_before: String,
    #[serde(default)]
    pub used_from: String,
    #[serde(default)]
    pub unused_days: String,
    #[serde(default)]
    pub domain: String,
    #[serde(default)]
    pub scope: String,
}

impl FilterForm {
    pub(crate) fn parse(&self) -> Result<BulkFilter, String> {
        let given = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let mut filter = BulkFilter::default();
        if let Some(day) = given(&self.created_before) {
            let day = Date::parse(&day, format_description!("[year]-[month]-[day]"))
                .map_err(|_| format!("Created before: {day:?} is not a date (2026-11-30)."))?;
            filter.created_before = Some(day.midnight().assume_utc().unix_timestamp());
        }
        if let Some(net) = given(&self.used_from) {
            let parsed = net
                .parse::<ipnet::IpNet>()
                .or_else(|_| net.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("Last used from: {net:?} is not an address or range."))?;
            filter.used_from = Some(parsed);
        }
        if let Some(days) = given(&self.unused_days) {
            let days = days
                .parse::<u32>()
                .map_err(|_| format!("Unused for: {days:?} is not a number of days."))?;
            filter.unused_days = Some(days);
        }
        if let Some(domain) = given(&self.domain) {
            let domain = domain.trim_start_matches('@').to_ascii_lowercase();
            if domain.contains(['@', '%', '_', ' ']) {
                return Err(format!("Domain: {domain:?} is not a domain."));
            }
            filter.domain = Some(domain);
        }
        if let Some(scope) = given(&self.scope) {
            filter.scope =
                Some(Scope::parse(&scope).ok_or_else(|| format!("Scope: {scope:?} is unknown."))?);
        }
        if filter.is_empty() {
            return Err("Choose at least one filter.".into());
        }
        Ok(filter)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/bulk_revoke.page.html")]
pub struct BulkPage {
    pub nav: Nav,
    pub form: FilterForm,
    pub error: Option<String>,
    /// The dry run's result, when the filters were previewed.
    pub preview: Option<BulkResult>,
    pub ask_password: bool,
    pub ask_factor: bool,
}

#[derive(Deserialize)]
pub struct PreviewQuery {
    #[serde(flatten)]
    form: FilterForm,
    #[serde(default)]
    preview: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Query(query): Query<PreviewQuery>,
) -> AppResult<Response> {
    let mut page = BulkPage {
        nav: Nav::of(&admin),
        form: query.form.clone(),
        error: None,
        preview: None,
        ask_password: !signed_in_recently(&state, admin.session.created_at),
        ask_factor: !factor_given_recently(&state, &admin.session),
    };
    if query.preview.is_some() {
        match query.form.parse() {
            Ok(filter) => {
                page.preview =
                    Some(bulk_revoke::dry_run(&state, &filter, admin.user.role()).await?);
            }
            Err(why) => {
                page.error = Some(why);
                return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
            }
        }
    }
    Ok(page.into_response())
}

#[derive(Deserialize)]
pub struct RunForm {
    #[serde(flatten)]
    form: FilterForm,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    password: Option<SecretString>,
}

pub async fn run(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Form(posted): Form<RunForm>,
) -> AppResult<Response> {
    let filter = match posted.form.parse() {
        Ok(filter) => filter,
        Err(why) => {
            let page = BulkPage {
                nav: Nav::of(&admin),
                form: posted.form,
                error: Some(why),
                preview: None,
                ask_password: !signed_in_recently(&state, admin.session.created_at),
                ask_factor: !factor_given_recently(&state, &admin.session),
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    recheck(&state, &admin, posted.password, &ip).await?;
    let reason = clean_reason(&Text::parse(&posted.reason, "The reason")?);
    let actor = admin.actor(&ip);
    let job = bulk_jobs::start(&state, filter, &actor, reason).await?;
    Ok(Redirect::to(&Page::BulkJob(job).path()).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/bulk_job.page.html")]
pub struct JobPage {
    pub nav: Nav,
    pub job: Job,
    pub running: bool,
    pub started: Moment,
    pub finished: Option<Moment>,
    /// Seconds between the page's refreshes while the job runs.
    pub refresh_secs: u32,
}

/// A job's progress (refreshing itself while it runs) or its result.
pub async fn job(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<i64>,
) -> AppResult<JobPage> {
    let job = bulk_jobs::find(&state, id).await?;
    let now = state.now();
    Ok(JobPage {
        nav: Nav::of(&admin),
        running: job.state == JobState::Running,
        started: Moment::of(job.started_at, now),
        finished: job.finished_at.map(|at| Moment::of(at, now)),
        job,
        refresh_secs: 2,
    })
}
