//! The admin area: every account at a glance, and the fast path for a compromised account
//! (revoke its app passwords, end its sessions, disable it, require a new password).
//! Every handler takes [`AdminUser`]: non-admins get a 404.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::Redirect;
use axum::Form;
use serde::Deserialize;

use super::client_ip::ClientIp;
use super::dashboard::AppPasswordView;
use super::format::timestamp;
use super::notice::{redirect_after, AdminDone, Done};
use super::routes::Page;
use super::session::AdminUser;
use super::{AppState, Nav};
use crate::domain::{AppPasswordId, Text, UserId};
use crate::error::{AppError, AppResult};
use crate::services;
use crate::services::credentials::{self, clean_reason};
use crate::store::audit::{self, AuditRow};
use crate::store::users::{self, AdminFlag, UserRow};

pub struct UserSummary {
    pub id: UserId,
    pub email: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub must_reset: bool,
    pub main_imap: bool,
    pub live_passwords: i64,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/users.page.html")]
pub struct UsersPage {
    pub nav: Nav,
    pub users: Vec<UserSummary>,
    /// The doveadm API failed its start-up check.
    pub doveadm_warning: Option<String>,
}

pub async fn users(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
) -> AppResult<UsersPage> {
    let users = users::list_with_counts(&state.db, state.now())
        .await?
        .into_iter()
        .map(|(u, live)| UserSummary {
            id: u.id,
            main_imap: u.main_imap_allowed && !u.main_imap_admin_blocked,
            email: u.email,
            is_admin: u.is_admin,
            disabled: u.disabled,
            must_reset: u.must_reset,
            live_passwords: live,
        })
        .collect();
    Ok(UsersPage {
        nav: Nav::of(&admin),
        users,
        doveadm_warning: super::admin_dovecot::doveadm_warning(&state),
    })
}

pub struct ActivityView {
    pub at: String,
    pub event: String,
    pub detail: String,
    pub ip: String,
}

impl From<AuditRow> for ActivityView {
    fn from(row: AuditRow) -> Self {
        Self {
            at: timestamp(row.at),
            event: row.event.replace('_', " "),
            detail: row.detail,
            ip: row.ip.unwrap_or_default(),
        }
    }
}

impl ActivityView {
    /// The `limit` newest events about the user, newest first.
    pub async fn recent(state: &AppState, user_id: UserId, limit: i64) -> AppResult<Vec<Self>> {
        Ok(audit::recent_for_user(&state.db, user_id, limit)
            .await?
            .into_iter()
            .map(Self::from)
            .collect())
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/user.page.html")]
pub struct UserPage {
    pub nav: Nav,
    pub user: UserRow,
    pub passwords: Vec<AppPasswordView>,
    pub activity: Vec<ActivityView>,
    pub notice: Option<String>,
    /// What the account has of second factors, in words ("none" if nothing).
    pub second_factor: String,
}

async fn target(state: &AppState, id: UserId) -> AppResult<UserRow> {
    users::find_by_id(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<UserId>,
    Query(done): Query<Done<AdminDone>>,
) -> AppResult<UserPage> {
    let user = target(&state, id).await?;
    let passwords = AppPasswordView::all_of(&state, id).await?;
    let activity = ActivityView::recent(&state, id, 50).await?;
    let status = services::second_factor::status(&state, id).await?;
    let mut factors = Vec::new();
    if status.totp_active {
        factors.push("authenticator app".to_owned());
    }
    if !status.passkeys.is_empty() {
        factors.push(format!("{} passkey(s)", status.passkeys.len()));
    }
    let second_factor = if factors.is_empty() {
        "none".to_owned()
    } else {
        factors.join(", ")
    };
    Ok(UserPage {
        nav: Nav::of(&admin),
        user,
        passwords,
        activity,
        notice: done.notice(),
        second_factor,
    })
}

#[derive(Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    reason: String,
}

pub async fn revoke_one(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path((id, password_id)): Path<(UserId, AppPasswordId)>,
    Form(form): Form<ReasonForm>,
) -> AppResult<Redirect> {
    let owner = target(&state, id).await?;
    let actor = admin.actor(&ip);
    let sync = credentials::revoke_one(
        &state,
        &owner,
        password_id,
        actor,
        &clean_reason(&Text::parse(&form.reason, "The reason")?),
    )
    .await?;
    Ok(redirect_after(
        Page::AdminUser(id),
        AdminDone::Revoked,
        sync,
    ))
}

pub async fn revoke_all(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<UserId>,
    Form(form): Form<ReasonForm>,
) -> AppResult<Redirect> {
    let owner = target(&state, id).await?;
    let actor = admin.actor(&ip);
    let (_, sync) = credentials::revoke_all(
        &state,
        &owner,
        actor,
        &clean_reason(&Text::parse(&form.reason, "The reason")?),
    )
    .await?;
    Ok(redirect_after(
        Page::AdminUser(id),
        AdminDone::RevokedAll,
        sync,
    ))
}

pub async fn end_sessions(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<UserId>,
) -> AppResult<Redirect> {
    let owner = target(&state, id).await?;
    let keep = (owner.id == admin.user.id).then_some(admin.token_digest.as_str());
    let actor = admin.actor(&ip);
    let sync = services::admin::end_sessions(&state, &owner, keep, actor).await?;
    Ok(redirect_after(
        Page::AdminUser(id),
        AdminDone::SignedOut,
        sync,
    ))
}

#[derive(Deserialize)]
pub struct FlagForm {
    flag: String,
    on: String,
}

pub async fn set_flag(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<UserId>,
    Form(form): Form<FlagForm>,
) -> AppResult<Redirect> {
    let owner = target(&state, id).await?;
    let flag = Text::parse(&form.flag, "The setting")?;
    let on = Text::parse(&form.on, "The setting")?;
    let flag = match flag.as_str() {
        "disabled" => AdminFlag::Disabled,
        "must_reset" => AdminFlag::MustReset,
        "main_imap_blocked" => AdminFlag::MainImapBlocked,
        _ => return Err(AppError::NotFound),
    };
    let on = match on.as_str() {
        "yes" => true,
        "no" => false,
        _ => return Err(AppError::NotFound),
    };
    let actor = admin.actor(&ip);
    let sync = services::admin::set_flag(&state, &owner, flag, on, actor).await?;
    Ok(redirect_after(Page::AdminUser(id), AdminDone::Saved, sync))
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/reset_factors.page.html")]
pub struct ResetFactorsPage {
    pub nav: Nav,
    pub user: UserRow,
    pub totp_active: bool,
    pub passkeys: usize,
    pub recovery_left: i64,
}

/// Asks the admin to confirm removing every second factor of the account.
pub async fn confirm_reset_factors(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<UserId>,
) -> AppResult<ResetFactorsPage> {
    let user = target(&state, id).await?;
    let status = services::second_factor::status(&state, id).await?;
    Ok(ResetFactorsPage {
        nav: Nav::of(&admin),
        user,
        totp_active: status.totp_active,
        passkeys: status.passkeys.len(),
        recovery_left: status.recovery_left,
    })
}

pub async fn reset_factors(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<UserId>,
) -> AppResult<Redirect> {
    let owner = target(&state, id).await?;
    services::second_factor::admin_reset(&state, &owner, admin.actor(&ip)).await?;
    Ok(redirect_after(
        Page::AdminUser(id),
        AdminDone::FactorsReset,
        crate::dovecot::doveadm::SessionSync::NotConfigured,
    ))
}
