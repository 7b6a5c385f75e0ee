//! The admin area: every account at a glance, and the fast path for a compromised account
//! (revoke its app passwords, end its sessions, disable it, require a new password).
//! Every handler takes [`AdminUser`]: non-admins get a 404.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::Redirect;
use axum::Form;
use secrecy::SecretString;
use serde::Deserialize;

use super::activity::ActivityView;
use super::admin_confirm::recheck;
use super::client_ip::ClientIp;
use super::dashboard::AppPasswordView;
use super::format::Moment;
use super::notice::{redirect_after, AdminDone, Done};
use super::routes::Page;
use super::session::AdminUser;
use super::{AppState, Nav};
use crate::domain::{AppPasswordId, Role, Text, UserId};
use crate::error::{AppError, AppResult};
use crate::services;
use crate::services::activity::{RecentLogin, Via};
use crate::services::credentials::{self, clean_reason};
use crate::store::users::{self, AdminFlag, UserRow};

#[derive(Template, WebTemplate)]
#[template(path = "admin/user.page.html")]
pub struct UserPage {
    pub nav: Nav,
    pub user: UserRow,
    /// The viewer may grant or remove admin rights (a superadmin).
    pub can_change_roles: bool,
    pub roles: [Role; 3],
    pub passwords: Vec<AppPasswordView>,
    pub activity: Vec<ActivityView>,
    /// The newest IMAP logins and web sign-ins, newest first.
    pub logins: Vec<LoginView>,
    pub notice: Option<String>,
    /// What the account has of second factors, in words ("none" if nothing).
    pub second_factor: String,
}

/// How many logins and sign-ins the account's page lists.
const RECENT_LOGINS: i64 = 20;

/// A login or web sign-in as the account's page lists it.
pub struct LoginView {
    pub at: Moment,
    pub succeeded: bool,
    pub ip: String,
    pub protocol: String,
    /// "web sign-in", "app password “Phone”", "main password", "not known".
    pub with: String,
}

impl LoginView {
    fn of(login: RecentLogin, now: i64) -> Self {
        let with = match login.via {
            Via::Web => "web sign-in".to_owned(),
            Via::AppPassword(name) => format!("app password “{name}”"),
            Via::MainPassword => "main password".to_owned(),
            Via::Unknown => "not known".to_owned(),
        };
        Self {
            at: Moment::of(login.at, now),
            succeeded: login.succeeded,
            ip: login.ip,
            protocol: login.protocol,
            with,
        }
    }
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
    let now = state.now();
    let logins = services::activity::recent_logins(&state, id, RECENT_LOGINS)
        .await?
        .into_iter()
        .map(|login| LoginView::of(login, now))
        .collect();
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
        can_change_roles: admin.user.role().may_change_roles(),
        roles: Role::ALL,
        user,
        passwords,
        activity,
        logins,
        notice: done.notice(),
        second_factor,
    })
}

#[derive(Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    reason: String,
    /// The admin's own password, asked for when their sign-in is not recent.
    #[serde(default)]
    password: Option<SecretString>,
}

/// A destructive action's form with nothing but the re-check.
#[derive(Deserialize)]
pub struct RecheckForm {
    #[serde(default)]
    password: Option<SecretString>,
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
        &actor,
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
    recheck(&state, &admin, form.password, &ip).await?;
    let actor = admin.actor(&ip);
    let (_, sync) = credentials::revoke_all(
        &state,
        &owner,
        &actor,
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
    Form(form): Form<RecheckForm>,
) -> AppResult<Redirect> {
    let owner = target(&state, id).await?;
    recheck(&state, &admin, form.password, &ip).await?;
    let keep = (owner.id == admin.user.id).then_some(admin.token_digest.as_str());
    let actor = admin.actor(&ip);
    let sync = services::admin::end_sessions(&state, &owner, keep, &actor).await?;
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
    #[serde(default)]
    password: Option<SecretString>,
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
    if on && matches!(flag, AdminFlag::Disabled | AdminFlag::MustReset) {
        recheck(&state, &admin, form.password, &ip).await?;
    }
    let actor = admin.actor(&ip);
    let sync = services::admin::set_flag(&state, &owner, flag, on, &actor).await?;
    Ok(redirect_after(
        Page::AdminUser(id),
        AdminDone::of_flag(flag, on),
        sync,
    ))
}

#[derive(Deserialize)]
pub struct RoleForm {
    role: String,
}

pub async fn set_role(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<UserId>,
    Form(form): Form<RoleForm>,
) -> AppResult<Redirect> {
    let owner = target(&state, id).await?;
    let role =
        Role::parse(Text::parse(&form.role, "The role")?.as_str()).ok_or(AppError::NotFound)?;
    let actor = admin.actor(&ip);
    services::admin::set_role(&state, &owner, role, &actor).await?;
    Ok(redirect_after(
        Page::AdminUser(id),
        AdminDone::RoleChanged,
        crate::dovecot::doveadm::SessionSync::NotConfigured,
    ))
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/reset_factors.page.html")]
pub struct ResetFactorsPage {
    pub nav: Nav,
    pub user: UserRow,
    pub totp_active: bool,
    pub passkeys: usize,
    pub recovery_left: i64,
    pub ask_password: bool,
    pub ask_factor: bool,
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
        ask_password: !services::admin::signed_in_recently(&state, admin.session.created_at),
        ask_factor: !services::admin::factor_given_recently(&state, &admin.session),
    })
}

pub async fn reset_factors(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<UserId>,
    Form(form): Form<RecheckForm>,
) -> AppResult<Redirect> {
    let owner = target(&state, id).await?;
    recheck(&state, &admin, form.password, &ip).await?;
    services::second_factor::admin_reset(&state, &owner, admin.actor(&ip)).await?;
    Ok(redirect_after(
        Page::AdminUser(id),
        AdminDone::FactorsReset,
        crate::dovecot::doveadm::SessionSync::NotConfigured,
    ))
}
