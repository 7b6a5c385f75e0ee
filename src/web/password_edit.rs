//! Changing a live app password after it was made: its limits (scope and networks, which
//! closes open mail connections so they apply at once) and its name (a label only).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use super::client_ip::ClientIp;
use super::dashboard::live_password;
use super::notice::{redirect_after, redirect_done, DashboardDone};
use super::routes::Page;
use super::session::SignedIn;
use super::{AppState, Nav};
use crate::domain::app_password::AllowedNets;
use crate::domain::{AppPasswordId, AppPasswordName, Scope};
use crate::error::AppResult;
use crate::services::credentials::{self, NotRenamed};

#[derive(Template, WebTemplate)]
#[template(path = "dashboard/edit.page.html")]
pub struct EditPage {
    pub nav: Nav,
    pub id: AppPasswordId,
    pub name: String,
    pub scope: String,
    pub allowed_nets: String,
    pub error: Option<String>,
}

pub async fn edit_page(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    Path(id): Path<AppPasswordId>,
) -> AppResult<EditPage> {
    let row = live_password(&state, &current, id).await?;
    Ok(EditPage {
        nav: Nav::of(&current),
        id,
        name: row.name,
        scope: row.scope,
        allowed_nets: row.allowed_nets.unwrap_or_default(),
        error: None,
    })
}

#[derive(Deserialize)]
pub struct LimitsForm {
    #[serde(default)]
    scope: String,
    #[serde(default)]
    allowed_nets: String,
}

/// Changes scope and networks of a live app password; Dovecot's cache is flushed and the
/// user's sessions kicked, so a narrower limit applies to connections already open too.
pub async fn edit(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    ClientIp(ip): ClientIp,
    Path(id): Path<AppPasswordId>,
    Form(form): Form<LimitsForm>,
) -> AppResult<Response> {
    let row = live_password(&state, &current, id).await?;
    let parsed = Scope::parse(&form.scope)
        .ok_or_else(|| "Choose what the password may be used for from the list.".to_owned())
        .and_then(|scope| {
            AllowedNets::parse(&form.allowed_nets)
                .map(|nets| (scope, nets))
                .map_err(|e| e.to_string())
        });
    let (scope, nets) = match parsed {
        Ok(valid) => valid,
        Err(message) => {
            let page = EditPage {
                nav: Nav::of(&current),
                id,
                name: row.name,
                scope: form.scope,
                allowed_nets: form.allowed_nets,
                error: Some(message),
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let actor = current.actor(&ip);
    let sync =
        credentials::update_limits(&state, &current.user, id, scope, nets.as_ref(), actor).await?;
    Ok(redirect_after(Page::Dashboard, DashboardDone::Limits, sync).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard/rename.page.html")]
pub struct RenamePage {
    pub nav: Nav,
    pub id: AppPasswordId,
    /// The name it has now.
    pub name: String,
    /// What is in the field: the name now, or what the user typed.
    pub typed: String,
    pub error: Option<String>,
}

pub async fn rename_page(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    Path(id): Path<AppPasswordId>,
) -> AppResult<RenamePage> {
    let row = live_password(&state, &current, id).await?;
    Ok(RenamePage {
        nav: Nav::of(&current),
        id,
        typed: row.name.clone(),
        name: row.name,
        error: None,
    })
}

#[derive(Deserialize)]
pub struct RenameForm {
    #[serde(default)]
    name: String,
}

const DUPLICATE_NAME: &str =
    "You already have an active app password with this name. Pick another name.";

/// Renames a live app password with the same rules as a new one's name.
pub async fn rename(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    ClientIp(ip): ClientIp,
    Path(id): Path<AppPasswordId>,
    Form(form): Form<RenameForm>,
) -> AppResult<Response> {
    let row = live_password(&state, &current, id).await?;
    let refused = |message: String| {
        let page = RenamePage {
            nav: Nav::of(&current),
            id,
            name: row.name.clone(),
            typed: form.name.clone(),
            error: Some(message),
        };
        (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
    };
    let name = match AppPasswordName::parse(&form.name) {
        Ok(name) => name,
        Err(e) => return Ok(refused(e.to_string())),
    };
    let actor = current.actor(&ip);
    match credentials::rename(&state, &current.user, id, &name, actor).await? {
        Ok(()) => Ok(redirect_done(Page::Dashboard, DashboardDone::Renamed).into_response()),
        Err(NotRenamed::DuplicateName) => Ok(refused(DUPLICATE_NAME.to_owned())),
    }
}
