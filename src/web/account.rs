//! The account page: rotating the main password, the main-password IMAP setting, and the
//! account's recent activity.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use secrecy::SecretString;
use serde::Deserialize;

use super::activity::ActivityView;
use super::client_ip::ClientIp;
use super::format::Moment;
use super::notice::{redirect_after, AccountDone, Done};
use super::routes::Page;
use super::session::{CurrentSession, SignedIn};
use super::{AppState, Nav};
use crate::error::AppResult;
use crate::services::account::{self, ChangeRefused, PasswordChange};
use crate::store::imap_logins;

#[derive(Template, WebTemplate)]
#[template(path = "account/index.page.html")]
pub struct AccountPage {
    pub nav: Nav,
    pub min_length: usize,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub must_reset: bool,
    pub main_imap_allowed: bool,
    pub main_imap_admin_blocked: bool,
    pub activity: Vec<ActivityView>,
    /// Failed IMAP logins Dovecot reported: (address, count, last time).
    pub imap_failures: Vec<(String, i64, Moment)>,
}

async fn account_page(
    state: &AppState,
    current: &CurrentSession,
    error: Option<String>,
    notice: Option<String>,
) -> AppResult<AccountPage> {
    let activity = ActivityView::recent(state, current.user.id, 20).await?;
    let imap_failures = imap_logins::failures_for(&state.db, &current.user.email, 10)
        .await?
        .into_iter()
        .map(|f| (f.ip, f.failures, Moment::at(f.last_at)))
        .collect();
    Ok(AccountPage {
        imap_failures,
        nav: Nav::of(current),
        min_length: state.settings.min_password_length,
        error,
        notice,
        must_reset: current.user.must_reset,
        main_imap_allowed: current.user.main_imap_allowed,
        main_imap_admin_blocked: current.user.main_imap_admin_blocked,
        activity,
    })
}

pub async fn index(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    Query(done): Query<Done<AccountDone>>,
) -> AppResult<AccountPage> {
    account_page(&state, &current, None, done.notice()).await
}

#[derive(Deserialize)]
pub struct ChangePasswordForm {
    current: SecretString,
    new: SecretString,
    confirm: SecretString,
    revoke_app_passwords: Option<String>,
}

pub async fn change_password(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    ClientIp(ip): ClientIp,
    Form(form): Form<ChangePasswordForm>,
) -> AppResult<Response> {
    let change = PasswordChange {
        current: form.current,
        new: form.new,
        confirm: form.confirm,
        revoke_app_passwords: form.revoke_app_passwords.is_some(),
    };
    let revoked = change.revoke_app_passwords;
    let actor = current.actor(&ip);
    let result =
        account::change_password(&state, &current.user, &current.token_digest, change, actor)
            .await?;
    match result {
        Ok(sync) => {
            let done = if revoked {
                AccountDone::PasswordAndRevoked
            } else {
                AccountDone::Password
            };
            Ok(redirect_after(Page::Account, done, sync).into_response())
        }
        Err(refused) => {
            let status = match refused {
                ChangeRefused::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            refuse(&state, &current, refused.to_string(), status).await
        }
    }
}

/// The account page again, with what was wrong with the form.
async fn refuse(
    state: &AppState,
    current: &CurrentSession,
    message: String,
    status: StatusCode,
) -> AppResult<Response> {
    let page = account_page(state, current, Some(message), None).await?;
    Ok((status, page).into_response())
}

#[derive(Deserialize)]
pub struct MainImapForm {
    allowed: Option<String>,
}

pub async fn set_main_imap(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    ClientIp(ip): ClientIp,
    Form(form): Form<MainImapForm>,
) -> AppResult<Redirect> {
    let actor = current.actor(&ip);
    let allowed = form.allowed.is_some();
    let sync = account::set_main_imap(&state, &current.user, allowed, actor).await?;
    Ok(redirect_after(Page::Account, AccountDone::Imap, sync))
}
