//! Admin → Activity: successful and failed logins (IMAP and web) per UTC hour over the last
//! days, as a chart drawn on the server with a table of the same numbers, and the addresses
//! with the most failures (`services::activity`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::chart;
use super::format::Moment;
use super::session::AdminUser;
use super::{AppState, Nav};
use crate::domain::activity::{ActivityDays, HourCount};
use crate::error::AppResult;
use crate::services::activity::{self, Activity, LOGIN_HISTORY_DAYS};

#[derive(Deserialize)]
pub struct DaysQuery {
    #[serde(default)]
    days: Option<String>,
}

/// An hour of the table: its start in UTC and its counts.
pub struct HourView {
    pub start: String,
    pub counts: HourCount,
}

pub struct FailingView {
    pub ip: String,
    pub failures: i64,
    pub last: Moment,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/activity.page.html")]
pub struct ActivityPage {
    pub nav: Nav,
    pub days: u32,
    pub choices: Vec<u32>,
    pub error: Option<String>,
    /// The inline `<svg>` (built by `web::chart`, its text escaped there).
    pub chart: String,
    /// The hours with any login, oldest first.
    pub rows: Vec<HourView>,
    pub imap_ok: i64,
    pub imap_failed: i64,
    pub web_ok: i64,
    pub web_failed: i64,
    pub failing: Vec<FailingView>,
    pub history_days: i64,
}

impl ActivityPage {
    fn of(nav: Nav, activity: Activity, error: Option<String>, now: i64) -> Self {
        let days = activity.days.get();
        Self {
            nav,
            days,
            choices: vec![1, 3, 7, ActivityDays::MAX],
            error,
            chart: chart::logins_per_hour(&activity.hours, days),
            imap_ok: activity.total(|h| h.imap_ok),
            imap_failed: activity.total(|h| h.imap_failed),
            web_ok: activity.total(|h| h.web_ok),
            web_failed: activity.total(|h| h.web_failed),
            rows: activity
                .hours
                .iter()
                .filter(|h| !h.is_empty())
                .map(|h| HourView {
                    start: chart::hour_label(h.hour),
                    counts: *h,
                })
                .collect(),
            failing: activity
                .top_failing
                .into_iter()
                .map(|f| FailingView {
                    ip: f.ip,
                    failures: f.failures,
                    last: Moment::of(f.last_at, now),
                })
                .collect(),
            history_days: LOGIN_HISTORY_DAYS,
        }
    }
}

/// `?days=` from 1 to 14 (3 if not given); anything else is answered with a 422 that says
/// so, showing the default.
pub async fn show(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Query(query): Query<DaysQuery>,
) -> AppResult<Response> {
    let (days, error) = match query.days.as_deref().map(str::trim) {
        None | Some("") => (ActivityDays::DEFAULT, None),
        Some(typed) => match ActivityDays::parse(typed) {
            Some(days) => (days, None),
            None => (
                ActivityDays::DEFAULT,
                Some(format!(
                    "Days: choose a whole number from 1 to {}.",
                    ActivityDays::MAX
                )),
            ),
        },
    };
    let activity = activity::overview(&state, days).await?;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = ActivityPage::of(Nav::of(&admin), activity, error, state.now());
    Ok((status, page).into_response())
}
