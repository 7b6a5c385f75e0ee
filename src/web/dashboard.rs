//! The dashboard: a user's app passwords, creating one, revoking one or all.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::client_ip::ClientIp;
use super::format::Moment;
use super::notice::{redirect_after, DashboardDone, Done};
use super::routes::Page;
use super::session::{CurrentSession, SignedIn};
use super::{AppState, Nav};
use crate::domain::{AppPasswordId, AppPasswordStatus, ExpiryChoice, Scope, Text, UserId};
use crate::error::{AppError, AppResult};
use crate::services::credentials::{self, clean_reason};
use crate::store::app_passwords::{self, AppPasswordRow};

pub struct AppPasswordView {
    pub id: AppPasswordId,
    pub name: String,
    pub lookup_id: String,
    pub scope: &'static str,
    pub allowed_nets: String,
    pub created: Moment,
    pub last_used: Option<Moment>,
    /// ` from 192.0.2.7 (imap)` after the last use, or empty.
    pub last_used_from: String,
    pub expires: Option<Moment>,
    pub status: AppPasswordStatus,
}

impl AppPasswordView {
    pub fn of(row: AppPasswordRow, now: i64) -> Self {
        let status = AppPasswordStatus::of(row.revoked_at, row.expires_at, now);
        let last_used_from = match (row.last_used_at, &row.last_used_ip) {
            (Some(_), Some(ip)) => format!(
                " from {ip}{}",
                row.last_used_protocol
                    .map(|p| format!(" ({p})"))
                    .unwrap_or_default()
            ),
            _ => String::new(),
        };
        Self {
            id: row.id,
            name: row.name,
            lookup_id: row.lookup_id,
            scope: Scope::parse(&row.scope).unwrap_or(Scope::Imap).label(),
            allowed_nets: row.allowed_nets.unwrap_or_else(|| "Anywhere".to_owned()),
            created: Moment::of(row.created_at, now),
            last_used: row.last_used_at.map(|at| Moment::of(at, now)),
            last_used_from,
            expires: row.expires_at.map(|at| Moment::of(at, now)),
            status,
        }
    }

    pub fn is_active(&self) -> bool {
        self.status.is_live()
    }

    /// The last use in words with its exact time, for a sentence: "Never" or
    /// "2026-11-26 14:05 UTC from 192.0.2.7 (imap)".
    pub fn last_used_text(&self) -> String {
        match &self.last_used {
            Some(at) => format!("{}{}", at.exact, self.last_used_from),
            None => "Never".to_owned(),
        }
    }

    /// Every app password of the user, live first, newest first.
    pub async fn all_of(state: &AppState, user_id: UserId) -> AppResult<Vec<Self>> {
        let now = state.now();
        Ok(app_passwords::list_for_user(&state.db, user_id)
            .await?
            .into_iter()
            .map(|row| Self::of(row, now))
            .collect())
    }
}

/// What the user typed into the create form, kept when it is shown again with an error.
#[derive(Deserialize, Default)]
pub struct CreateForm {
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) expires: String,
    #[serde(default)]
    pub(super) scope: String,
    #[serde(default)]
    pub(super) allowed_nets: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard/index.page.html")]
pub struct IndexPage {
    pub nav: Nav,
    /// Active passwords; the revoked and expired ones are in `past`.
    pub passwords: Vec<AppPasswordView>,
    pub active_count: usize,
    pub past: Vec<AppPasswordView>,
    /// Whether the past passwords are shown (`?past=1`); a link, so it works without JS.
    pub show_past: bool,
    pub form: CreateForm,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub expiry_options: [(&'static str, &'static str); 5],
    pub kicks_sessions: bool,
}

async fn index_page(
    state: &AppState,
    current: &CurrentSession,
    form: CreateForm,
    error: Option<String>,
    notice: Option<String>,
    show_past: bool,
) -> AppResult<IndexPage> {
    let (passwords, past): (Vec<_>, Vec<_>) = AppPasswordView::all_of(state, current.user.id)
        .await?
        .into_iter()
        .partition(AppPasswordView::is_active);
    Ok(IndexPage {
        nav: Nav::of(current),
        active_count: passwords.len(),
        passwords,
        past,
        show_past,
        form,
        error,
        notice,
        expiry_options: ExpiryChoice::OPTIONS,
        kicks_sessions: state.settings.doveadm_url.is_some(),
    })
}

/// `?past=1`: list the revoked and expired passwords too.
#[derive(Deserialize)]
pub struct Shown {
    past: Option<String>,
}

pub async fn index(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    Query(done): Query<Done<DashboardDone>>,
    Query(shown): Query<Shown>,
    Query(typed): Query<CreateForm>,
) -> AppResult<Response> {
    if current.user.must_reset {
        // An admin asked for a new password: that comes first.
        return Ok(Page::Account.redirect().into_response());
    }
    // `typed`: what a create form posted after the session ended held (web::session_end).
    let page = index_page(
        &state,
        &current,
        typed,
        None,
        done.notice(),
        shown.past.is_some(),
    )
    .await?;
    Ok(page.into_response())
}

pub(super) async fn rejected(
    state: &AppState,
    current: &CurrentSession,
    form: CreateForm,
    message: String,
) -> AppResult<Response> {
    let page = index_page(state, current, form, Some(message), None, false).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard/confirm_revoke.page.html")]
pub struct ConfirmRevokePage {
    pub nav: Nav,
    pub id: AppPasswordId,
    pub name: String,
    pub last_used: String,
}

/// Only the owner's live app passwords can be revoked or changed; anything else is a 404.
pub(super) async fn live_password(
    state: &AppState,
    current: &CurrentSession,
    id: AppPasswordId,
) -> AppResult<AppPasswordRow> {
    match app_passwords::find_for_user(&state.db, current.user.id, id).await? {
        Some(row) if row.revoked_at.is_none() => Ok(row),
        _ => Err(AppError::NotFound),
    }
}

pub async fn confirm_revoke(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    Path(id): Path<AppPasswordId>,
) -> AppResult<ConfirmRevokePage> {
    let row = live_password(&state, &current, id).await?;
    let view = AppPasswordView::of(row, state.now());
    Ok(ConfirmRevokePage {
        nav: Nav::of(&current),
        id,
        last_used: view.last_used_text(),
        name: view.name,
    })
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    reason: String,
}

pub async fn revoke(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    ClientIp(ip): ClientIp,
    Path(id): Path<AppPasswordId>,
    Form(form): Form<RevokeForm>,
) -> AppResult<Redirect> {
    let actor = current.actor(&ip);
    let sync = credentials::revoke_one(
        &state,
        &current.user,
        id,
        &actor,
        &clean_reason(&Text::parse(&form.reason, "The reason")?),
    )
    .await?;
    Ok(redirect_after(
        Page::Dashboard,
        DashboardDone::Revoked,
        sync,
    ))
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard/confirm_revoke_all.page.html")]
pub struct ConfirmRevokeAllPage {
    pub nav: Nav,
    pub active_count: usize,
}

pub async fn confirm_revoke_all(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
) -> AppResult<ConfirmRevokeAllPage> {
    let active_count = AppPasswordView::all_of(&state, current.user.id)
        .await?
        .iter()
        .filter(|p| p.is_active())
        .count();
    Ok(ConfirmRevokeAllPage {
        nav: Nav::of(&current),
        active_count,
    })
}

pub async fn revoke_all(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    ClientIp(ip): ClientIp,
    Form(form): Form<RevokeForm>,
) -> AppResult<Redirect> {
    let actor = current.actor(&ip);
    let (_, sync) = credentials::revoke_all(
        &state,
        &current.user,
        &actor,
        &clean_reason(&Text::parse(&form.reason, "The reason")?),
    )
    .await?;
    Ok(redirect_after(
        Page::Dashboard,
        DashboardDone::RevokedAll,
        sync,
    ))
}
