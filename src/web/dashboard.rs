//! The dashboard: a user's app passwords, creating one, revoking one or all.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::client_ip::ClientIp;
use super::format::{optional_timestamp, timestamp};
use super::notice::{redirect_after, DashboardDone, Done};
use super::routes::Page;
use super::session::{CurrentSession, Reauthenticated, SignedIn};
use super::{AppState, Nav};
use crate::domain::app_password::AllowedNets;
use crate::domain::{
    AppPasswordId, AppPasswordName, AppPasswordStatus, ExpiryChoice, Scope, Text, UserId,
};
use crate::error::{AppError, AppResult};
use crate::services::credentials::{self, clean_reason, NewPassword, NotCreated};
use crate::store::app_passwords::{self, AppPasswordRow};

pub struct AppPasswordView {
    pub id: AppPasswordId,
    pub name: String,
    pub lookup_id: String,
    pub scope: &'static str,
    pub allowed_nets: String,
    pub created: String,
    pub last_used: String,
    pub expires: String,
    pub status: AppPasswordStatus,
}

impl AppPasswordView {
    pub fn of(row: AppPasswordRow, now: i64) -> Self {
        let status = AppPasswordStatus::of(row.revoked_at, row.expires_at, now);
        let last_used = match (row.last_used_at, &row.last_used_ip) {
            (Some(at), Some(ip)) => format!(
                "{} from {ip}{}",
                timestamp(at),
                row.last_used_protocol
                    .map(|p| format!(" ({p})"))
                    .unwrap_or_default()
            ),
            (Some(at), None) => timestamp(at),
            _ => "Never".to_owned(),
        };
        Self {
            id: row.id,
            name: row.name,
            lookup_id: row.lookup_id,
            scope: Scope::parse(&row.scope).unwrap_or(Scope::Imap).label(),
            allowed_nets: row.allowed_nets.unwrap_or_else(|| "Anywhere".to_owned()),
            created: timestamp(row.created_at),
            last_used,
            expires: optional_timestamp(row.expires_at, "Never"),
            status,
        }
    }

    pub fn is_active(&self) -> bool {
        self.status.is_live()
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
    name: String,
    #[serde(default)]
    expires: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    allowed_nets: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard/index.page.html")]
pub struct IndexPage {
    pub nav: Nav,
    pub passwords: Vec<AppPasswordView>,
    pub active_count: usize,
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
) -> AppResult<IndexPage> {
    let passwords = AppPasswordView::all_of(state, current.user.id).await?;
    Ok(IndexPage {
        nav: Nav::of(current),
        active_count: passwords.iter().filter(|p| p.is_active()).count(),
        passwords,
        form,
        error,
        notice,
        expiry_options: ExpiryChoice::OPTIONS,
        kicks_sessions: state.settings.doveadm_url.is_some(),
    })
}

pub async fn index(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    Query(done): Query<Done<DashboardDone>>,
) -> AppResult<Response> {
    if current.user.must_reset {
        // An admin asked for a new password: that comes first.
        return Ok(Page::Account.redirect().into_response());
    }
    let page = index_page(&state, &current, CreateForm::default(), None, done.notice()).await?;
    Ok(page.into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard/created.page.html")]
pub struct CreatedPage {
    pub nav: Nav,
    pub name: String,
    pub password: SecretString,
    pub username: String,
    pub imap_host: String,
    pub imap_port: u16,
    pub expires: String,
    pub scope: &'static str,
}

impl CreatedPage {
    /// The one place the plaintext is exposed: rendered into this page, once.
    pub fn plaintext(&self) -> &str {
        self.password.expose_secret()
    }
}

fn validate(form: &CreateForm) -> Result<NewPassword, String> {
    let name = AppPasswordName::parse(&form.name).map_err(|e| e.to_string())?;
    let expiry = ExpiryChoice::parse(&form.expires)
        .ok_or("Choose when the password expires from the list.")?;
    let scope = if form.scope.is_empty() {
        Some(Scope::Imap)
    } else {
        Scope::parse(&form.scope)
    }
    .ok_or("Choose what the password may be used for from the list.")?;
    let nets = AllowedNets::parse(&form.allowed_nets).map_err(|e| e.to_string())?;
    Ok(NewPassword {
        name,
        expiry,
        scope,
        nets,
    })
}

const DUPLICATE_NAME: &str = "You already have an active app password with this name. Pick another name or revoke the old one.";

/// Creating a credential asks for the second factor again when it was given long ago.
pub async fn create(
    State(state): State<AppState>,
    Reauthenticated(current): Reauthenticated,
    ClientIp(ip): ClientIp,
    Form(form): Form<CreateForm>,
) -> AppResult<Response> {
    let new = match validate(&form) {
        Ok(valid) => valid,
        Err(message) => return rejected(&state, &current, form, message).await,
    };
    let actor = current.actor(&ip);
    match credentials::create(&state, &current.user, &new, actor).await? {
        Ok(created) => {
            let page = CreatedPage {
                nav: Nav::of(&current),
                name: new.name.as_str().to_owned(),
                password: created.plaintext,
                username: current.user.email.clone(),
                imap_host: state.settings.imap_host.clone(),
                imap_port: state.settings.imap_port,
                expires: optional_timestamp(created.expires_at, "Never"),
                scope: new.scope.label(),
            };
            Ok((StatusCode::CREATED, page).into_response())
        }
        Err(NotCreated::DuplicateName) => {
            rejected(&state, &current, form, DUPLICATE_NAME.into()).await
        }
    }
}

async fn rejected(
    state: &AppState,
    current: &CurrentSession,
    form: CreateForm,
    message: String,
) -> AppResult<Response> {
    let page = index_page(state, current, form, Some(message), None).await?;
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

/// Only the owner's live app passwords can be revoked; anything else is a 404.
async fn live_password(
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
        name: view.name,
        last_used: view.last_used,
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
        actor,
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
        actor,
        &clean_reason(&Text::parse(&form.reason, "The reason")?),
    )
    .await?;
    Ok(redirect_after(
        Page::Dashboard,
        DashboardDone::RevokedAll,
        sync,
    ))
}

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
