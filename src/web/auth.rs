//! Signing in and out, and the first admin's one-time setup link.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::client_ip::ClientIp;
use super::session::{self, CurrentSession, SignedIn};
use super::AppState;
use crate::domain::hashing::Profile;
use crate::domain::password_policy::{self, check_new_password};
use crate::domain::random::token_digest;
use crate::domain::Username;
use crate::error::{AppError, AppResult};
use crate::store::audit::{self, Entry, Event};
use crate::store::{sessions, setup_tokens, throttle, users};

const WRONG_CREDENTIALS: &str = "The email address or password is incorrect.";

#[derive(Template, WebTemplate)]
#[template(path = "auth/sign_in.page.html")]
pub struct SignInPage {
    pub csrf: String,
    pub email: String,
    pub error: Option<String>,
}

pub async fn sign_in_page(
    State(state): State<AppState>,
    current: Option<axum::Extension<CurrentSession>>,
    jar: CookieJar,
) -> AppResult<Response> {
    if current.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    let (jar, csrf) = super::csrf::anon_token(&state, jar)?;
    let page = SignInPage {
        csrf,
        email: String::new(),
        error: None,
    };
    Ok((jar, page).into_response())
}

#[derive(Deserialize)]
pub struct SignInForm {
    csrf: String,
    email: String,
    password: SecretString,
}

pub async fn sign_in(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(form): Form<SignInForm>,
) -> AppResult<Response> {
    state.limits.sign_in(&ip)?;
    let now = state.now();
    // The lock is keyed by what was typed, known account or not, so it reveals nothing.
    let parsed = Username::parse(&form.email);
    let lock_key = match &parsed {
        Ok(name) => name.as_str().to_owned(),
        Err(_) => form.email.trim().to_lowercase().chars().take(254).collect(),
    };
    if let Some(wait) = throttle::locked_for(&state.db, &lock_key, now).await? {
        // Decided before any hashing: a locked account costs an attacker nothing to ask about
        // and costs us nothing to refuse.
        let page = SignInPage {
            csrf: form.csrf,
            email: form.email,
            error: Some(locked_message(wait)),
        };
        return Ok((StatusCode::TOO_MANY_REQUESTS, page).into_response());
    }
    let user = match &parsed {
        Ok(name) => users::find_with_hash(&state.db, name.as_str()).await?,
        Err(_) => None,
    };
    let (user, stored) = match user {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    // Over-long input is refused without hashing, the same way for every account.
    let matched = password_policy::within_max_length(&form.password)
        && state
            .hasher
            .verify(form.password, stored)
            .await
            .map_err(AppError::internal)?;
    match user {
        Some(user) if matched && !user.disabled => {
            throttle::clear(&state.db, &lock_key).await?;
            let jar = session::start(&state, jar, user.id, &ip).await?;
            audit::record(
                &state.db.pool,
                Entry {
                    actor: Some(user.id),
                    subject: Some(user.id),
                    event: Event::SignIn,
                    detail: String::new(),
                    ip: Some(&ip),
                },
                now,
            )
            .await?;
            Ok((jar, Redirect::to("/")).into_response())
        }
        _ => {
            let failures = throttle::record_failure(&state.db, &lock_key, now).await?;
            let subject = user.as_ref().map(|u| u.id);
            let mut detail = format!("{failures} consecutive failures");
            if subject.is_none() {
                detail.push_str(", unknown account");
            }
            audit::record(
                &state.db.pool,
                Entry {
                    actor: None,
                    subject,
                    event: Event::SignInFailed,
                    detail,
                    ip: Some(&ip),
                },
                now,
            )
            .await?;
            let page = SignInPage {
                csrf: form.csrf,
                email: form.email,
                error: Some(WRONG_CREDENTIALS.to_owned()),
            };
            Ok((StatusCode::UNAUTHORIZED, page).into_response())
        }
    }
}

fn locked_message(wait_secs: i64) -> String {
    let minutes = (wait_secs + 59) / 60;
    format!(
        "Too many failed sign-ins for this address. Try again in {minutes} minute{}. Mail apps using app passwords keep working.",
        if minutes == 1 { "" } else { "s" }
    )
}

pub async fn sign_out(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
) -> AppResult<Response> {
    sessions::delete(&state.db, &current.token_digest).await?;
    let user_id = current.user.id;
    audit::record(
        &state.db.pool,
        Entry {
            actor: Some(user_id),
            subject: Some(user_id),
            event: Event::SignOut,
            detail: String::new(),
            ip: Some(&ip),
        },
        state.now(),
    )
    .await?;
    Ok((session::end_cookie(&state, jar), Redirect::to("/sign-in")).into_response())
}

/// Ends every browser session of the user, this one included.
pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
) -> AppResult<Response> {
    let user_id = current.user.id;
    let mut tx = state.db.begin().await?;
    let ended = sessions::delete_for_user(&mut *tx, user_id, None).await?;
    audit::record(
        &mut *tx,
        Entry {
            actor: Some(user_id),
            subject: Some(user_id),
            event: Event::SessionsEnded,
            detail: format!("{ended} browser sessions ended by the user"),
            ip: Some(&ip),
        },
        state.now(),
    )
    .await?;
    tx.commit().await?;
    Ok((session::end_cookie(&state, jar), Redirect::to("/sign-in")).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/setup.page.html")]
pub struct SetupPage {
    pub csrf: String,
    pub token: String,
    pub email: String,
    pub min_length: usize,
    pub error: Option<String>,
}

pub async fn setup_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    jar: CookieJar,
) -> AppResult<Response> {
    if !setup_usable(&state, &token_digest(&token)).await? {
        return Err(AppError::LinkExpired);
    }
    let (jar, csrf) = super::csrf::anon_token(&state, jar)?;
    let page = SetupPage {
        csrf,
        token,
        email: String::new(),
        min_length: state.settings.min_password_length,
        error: None,
    };
    Ok((jar, page).into_response())
}

/// A setup link works once, before it expires, and only while no admin exists: an older
/// link printed by an earlier start cannot make a second admin.
async fn setup_usable(state: &AppState, digest: &str) -> AppResult<bool> {
    Ok(
        setup_tokens::is_usable(&state.db, digest, state.now()).await?
            && !users::any_admin(&state.db).await?,
    )
}

#[derive(Deserialize)]
pub struct SetupForm {
    csrf: String,
    email: String,
    password: SecretString,
    confirm: SecretString,
}

pub async fn setup(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(form): Form<SetupForm>,
) -> AppResult<Response> {
    let digest = token_digest(&token);
    let now = state.now();
    if !setup_usable(&state, &digest).await? {
        return Err(AppError::LinkExpired);
    }
    let invalid = |message: String| {
        let page = SetupPage {
            csrf: form.csrf.clone(),
            token: token.clone(),
            email: form.email.clone(),
            min_length: state.settings.min_password_length,
            error: Some(message),
        };
        Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
    };
    let email = match Username::parse(&form.email) {
        Ok(email) => email,
        Err(e) => return invalid(e.to_string()),
    };
    if form.password.expose_secret() != form.confirm.expose_secret() {
        return invalid("The two passwords differ.".into());
    }
    if let Err(e) = check_new_password(
        &form.password,
        state.settings.min_password_length,
        &crate::domain::username::email_words(&email),
    ) {
        return invalid(e.to_string());
    }
    let hash = state
        .hasher
        .hash(Profile::Main, form.password)
        .await
        .map_err(AppError::internal)?;
    let mut tx = state.db.begin().await?;
    if !setup_tokens::consume(&mut *tx, &digest, now).await? {
        return Err(AppError::LinkExpired);
    }
    // Every other link printed earlier dies with this one.
    setup_tokens::retire_all(&mut *tx, now).await?;
    let inserted = users::insert(
        &mut *tx,
        users::NewUser {
            email: email.as_str(),
            password_hash: &hash,
            is_admin: true,
            main_imap_allowed: state.settings.main_password_imap_default,
            now,
        },
    )
    .await;
    let user_id = match inserted {
        Ok(id) => id,
        Err(e) if crate::store::is_unique_violation(&e) => {
            return invalid("An account with this email address exists already.".into())
        }
        Err(e) => return Err(e.into()),
    };
    audit::record(
        &mut *tx,
        Entry {
            actor: Some(user_id),
            subject: Some(user_id),
            event: Event::SetupCompleted,
            detail: "first admin created through the setup link".into(),
            ip: Some(&ip),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    let jar = session::start(&state, jar, user_id, &ip).await?;
    Ok((jar, Redirect::to("/")).into_response())
}
