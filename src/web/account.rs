//! The account page: rotating the main password, the main-password IMAP setting, and the
//! account's recent activity.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::admin::ActivityView;
use super::auth::email_words;
use super::client_ip::ClientIp;
use super::format::timestamp;
use super::session::{CurrentSession, SignedIn};
use super::{AppState, Nav};
use crate::domain::hashing::Profile;
use crate::domain::password_policy::{check_new_password, within_max_length, Rejected};
use crate::domain::Username;
use crate::error::{AppError, AppResult};
use crate::services::credentials;
use crate::store::app_passwords::{self, Revocation};
use crate::store::audit::{self, Entry, Event};
use crate::store::{imap_logins, sessions, users};

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
    pub imap_failures: Vec<(String, i64, String)>,
}

/// What each finished action (`?done=…`) says on this page.
const NOTICES: &[(&str, &str)] = &[
    ("password", "Your password was changed and every other browser session was signed out."),
    ("password-and-revoked", "Your password was changed, every other browser session was signed out and all app passwords were revoked."),
    ("imap", "Your IMAP setting was saved."),
];

async fn account_page(
    state: &AppState,
    current: &CurrentSession,
    error: Option<String>,
    notice: Option<String>,
) -> AppResult<AccountPage> {
    let activity = audit::recent_for_user(&state.db, current.user.id, 20)
        .await?
        .into_iter()
        .map(ActivityView::from)
        .collect();
    let imap_failures = imap_logins::failures_for(&state.db, &current.user.email, 10)
        .await?
        .into_iter()
        .map(|f| (f.ip, f.failures, timestamp(f.last_at)))
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
    Query(done): Query<super::Done>,
) -> AppResult<AccountPage> {
    account_page(&state, &current, None, done.notice(NOTICES)).await
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
    let user_id = current.user.id;
    let now = state.now();
    if !within_max_length(&form.current) || !within_max_length(&form.new) {
        return refuse(
            &state,
            &current,
            Rejected::TooLong.to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let stored = users::password_hash(&state.db, user_id).await?;
    let current_ok = state
        .hasher
        .verify(form.current.clone(), stored)
        .await
        .map_err(AppError::internal)?;
    if !current_ok {
        audit::record(
            &state.db.pool,
            Entry {
                actor: Some(user_id),
                subject: Some(user_id),
                event: Event::PasswordChangeFailed,
                detail: "wrong current password".into(),
                ip: Some(&ip),
            },
            now,
        )
        .await?;
        return refuse(
            &state,
            &current,
            "Your current password is incorrect.".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    if form.new.expose_secret() == form.current.expose_secret() {
        return refuse(
            &state,
            &current,
            Rejected::SameAsCurrent.to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    if form.new.expose_secret() != form.confirm.expose_secret() {
        return refuse(
            &state,
            &current,
            "The two new passwords differ.".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let email = Username::parse(&current.user.email).map_err(AppError::internal)?;
    if let Err(e) = check_new_password(
        &form.new,
        state.settings.min_password_length,
        &email_words(&email),
    ) {
        return refuse(
            &state,
            &current,
            e.to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let hash = state
        .hasher
        .hash(Profile::Main, form.new)
        .await
        .map_err(AppError::internal)?;
    let revoke_all = form.revoke_app_passwords.is_some();
    let mut tx = state.db.begin().await?;
    users::set_password(&mut *tx, user_id, &hash, now).await?;
    let ended = sessions::delete_for_user(&mut *tx, user_id, Some(&current.token_digest)).await?;
    let mut detail = format!("{ended} other sessions ended");
    if revoke_all {
        let revocation = Revocation {
            user_id,
            by: user_id,
            reason: "main password rotated",
            now,
        };
        let count = app_passwords::revoke_all(&mut *tx, &revocation).await?;
        detail.push_str(&format!(", {count} app passwords revoked"));
    }
    audit::record(
        &mut *tx,
        Entry {
            actor: Some(user_id),
            subject: Some(user_id),
            event: Event::PasswordChanged,
            detail,
            ip: Some(&ip),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    let sync = credentials::sync_mail_server(&state, &current.user, true).await;
    let done = if revoke_all {
        "password-and-revoked"
    } else {
        "password"
    };
    Ok(Redirect::to(&format!(
        "/account?done={done}&sessions={}",
        sync.as_query()
    ))
    .into_response())
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
    let user_id = current.user.id;
    let allowed = form.allowed.is_some();
    let mut tx = state.db.begin().await?;
    users::set_main_imap_allowed(&mut *tx, user_id, allowed).await?;
    let detail = if allowed {
        "main password allowed for IMAP"
    } else {
        "main password refused for IMAP"
    };
    audit::record(
        &mut *tx,
        Entry {
            actor: Some(user_id),
            subject: Some(user_id),
            event: Event::MainImapSetting,
            detail: detail.into(),
            ip: Some(&ip),
        },
        state.now(),
    )
    .await?;
    tx.commit().await?;
    // Turning the main password off must also end sessions it opened.
    let sync = credentials::sync_mail_server(&state, &current.user, !allowed).await;
    Ok(Redirect::to(&format!(
        "/account?done=imap&sessions={}",
        sync.as_query()
    )))
}
