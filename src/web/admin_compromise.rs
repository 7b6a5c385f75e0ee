//! "This account is compromised": the admin's one action for a breach. A confirmation page
//! says what will happen (and asks for the admin's password again when their sign-in is
//! not recent); the answer page shows each step's result. The use case is
//! `services::admin::compromised`, shared with the command line.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use secrecy::SecretString;
use serde::Deserialize;

use super::client_ip::ClientIp;
use super::session::{AdminUser, CurrentSession};
use super::{AppState, Nav};
use crate::domain::{Text, UserId};
use crate::dovecot::doveadm::SessionSync;
use crate::error::{AppError, AppResult};
use crate::services::admin::{self, CompromiseReport, Recheck};
use crate::services::credentials::clean_reason;
use crate::store::users::{self, UserRow};
use crate::store::{app_passwords, sessions};

#[derive(Template, WebTemplate)]
#[template(path = "admin/compromise_confirm.page.html")]
pub struct ConfirmPage {
    pub nav: Nav,
    pub user: UserRow,
    pub live_passwords: usize,
    pub web_sessions: i64,
    pub doveadm_configured: bool,
    /// The admin's sign-in is not recent: their password is asked for again.
    pub ask_password: bool,
    pub ask_factor: bool,
    pub reason: String,
    pub error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/compromise_done.page.html")]
pub struct DonePage {
    pub nav: Nav,
    pub user: UserRow,
    pub report: CompromiseReport,
    pub mail_server: &'static str,
}

async fn target(state: &AppState, id: UserId) -> AppResult<UserRow> {
    users::find_by_id(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)
}

async fn confirm_page(
    state: &AppState,
    admin: &CurrentSession,
    user: UserRow,
    reason: String,
    error: Option<String>,
) -> AppResult<ConfirmPage> {
    let live_passwords = app_passwords::list_for_user(&state.db, user.id)
        .await?
        .iter()
        .filter(|p| p.revoked_at.is_none())
        .count();
    let web_sessions = sessions::count_for_user(&state.db, user.id).await?;
    Ok(ConfirmPage {
        nav: Nav::of(admin),
        live_passwords,
        web_sessions,
        doveadm_configured: state.doveadm.is_some(),
        ask_password: !admin::signed_in_recently(state, admin.session.created_at),
        ask_factor: !admin::factor_given_recently(state, &admin.session),
        user,
        reason,
        error,
    })
}

pub async fn confirm(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<UserId>,
) -> AppResult<ConfirmPage> {
    let user = target(&state, id).await?;
    confirm_page(&state, &admin, user, String::new(), None).await
}

#[derive(Deserialize)]
pub struct CompromiseForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    password: Option<SecretString>,
}

/// The confirmation page again, with what was wrong and the reason kept.
async fn refused(
    state: &AppState,
    admin: &CurrentSession,
    user: UserRow,
    reason: String,
    status: StatusCode,
    error: &str,
) -> AppResult<Response> {
    let page = confirm_page(state, admin, user, reason, Some(error.to_owned())).await?;
    Ok((status, page).into_response())
}

pub async fn run(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<UserId>,
    Form(form): Form<CompromiseForm>,
) -> AppResult<Response> {
    let user = target(&state, id).await?;
    let reason = clean_reason(&Text::parse(&form.reason, "The reason")?);
    if reason.is_empty() {
        let why = "Say why (the reason goes into the audit log).";
        return refused(
            &state,
            &admin,
            user,
            reason,
            StatusCode::UNPROCESSABLE_ENTITY,
            why,
        )
        .await;
    }
    if !admin::factor_given_recently(&state, &admin.session) {
        let why = admin::FACTOR_AGAIN;
        return refused(&state, &admin, user, reason, StatusCode::FORBIDDEN, why).await;
    }
    if !admin::signed_in_recently(&state, admin.session.created_at) {
        let typed = form.password.unwrap_or_else(|| SecretString::from(""));
        match admin::recheck_password(&state, &admin.user, typed, &ip).await? {
            Ok(()) => {}
            Err(Recheck::Wrong) => {
                let why = "That is not your password. Nothing was changed.";
                return refused(&state, &admin, user, reason, StatusCode::UNAUTHORIZED, why).await;
            }
            Err(Recheck::Locked { wait_secs }) => {
                let why = format!(
                    "Too many wrong passwords: try again in {wait_secs} seconds. Nothing was changed."
                );
                return refused(
                    &state,
                    &admin,
                    user,
                    reason,
                    StatusCode::TOO_MANY_REQUESTS,
                    &why,
                )
                .await;
            }
        }
    }
    let actor = admin.actor(&ip);
    let report = admin::compromised(&state, &user, &actor, &reason).await?;
    let user = target(&state, id).await?;
    Ok(DonePage {
        nav: Nav::of(&admin),
        user,
        mail_server: mail_server_result(report.mail_server),
        report,
    }
    .into_response())
}

/// The Dovecot step's result, in the admin's terms.
fn mail_server_result(sync: SessionSync) -> &'static str {
    match sync {
        SessionSync::Ended => "Done: Dovecot closed this account's open IMAP connections (and flushed its login cache, on Dovecot 2.3; the 2.4 configuration keeps no cache).",
        SessionSync::NotConfigured => "Not done: the doveadm API is not configured, so open IMAP connections stay until they reconnect (new logins with the revoked passwords are refused already).",
        SessionSync::Failed => "Failed: Dovecot's doveadm API did not answer, so open IMAP connections may stay until they reconnect (new logins with the revoked passwords are refused already). See Admin → Dovecot.",
    }
}
