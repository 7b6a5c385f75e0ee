//! Signing in and out, and the first admin's one-time setup link.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::client_ip::ClientIp;
use super::routes::Page;
use super::session::{self, CurrentSession, MayEnrol};
use super::session_end::SignInQuery;
use super::AppState;
use crate::domain::{LocalPath, Text, Username};
use crate::error::{AppError, AppResult};
use crate::infra::random::token_digest;
use crate::services::auth::{self, SignIn};
use crate::services::users::{self, NewAccount, Origin};
use crate::store::setup_tokens;

const WRONG_CREDENTIALS: &str = "The email address or password is incorrect.";

#[derive(Template, WebTemplate)]
#[template(path = "auth/sign_in.page.html")]
pub struct SignInPage {
    pub csrf: String,
    pub email: String,
    pub error: Option<String>,
    /// The session ended (timeout): the page says so.
    pub ended: bool,
    /// Where to go after signing in (a checked local path, or empty).
    pub next: String,
}

/// `next` if it is a local path to return to, else empty.
fn checked_next(next: &str) -> String {
    LocalPath::parse(next)
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default()
}

pub async fn sign_in_page(
    State(state): State<AppState>,
    current: Option<axum::Extension<CurrentSession>>,
    Query(query): Query<SignInQuery>,
    jar: CookieJar,
) -> AppResult<Response> {
    let next = LocalPath::parse(&query.next);
    if current.is_some() {
        return Ok(after_sign_in(next.as_ref()).into_response());
    }
    let (jar, csrf) = super::csrf::anon_token(&state, jar)?;
    let page = SignInPage {
        csrf,
        email: String::new(),
        error: None,
        ended: query.ended,
        next: next.map(|p| p.as_str().to_owned()).unwrap_or_default(),
    };
    Ok((jar, page).into_response())
}

/// The page to go to once signed in: back where the user was, or the dashboard.
fn after_sign_in(next: Option<&LocalPath>) -> Redirect {
    next.map_or_else(|| Page::Dashboard.redirect(), |p| Redirect::to(p.as_str()))
}

#[derive(Deserialize)]
pub struct SignInForm {
    csrf: String,
    email: String,
    password: SecretString,
    #[serde(default)]
    next: String,
}

pub async fn sign_in(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(form): Form<SignInForm>,
) -> AppResult<Response> {
    let _turn = state.limits.sign_in(&ip).await?;
    // Normalised before anything reads it: a NUL byte would make PostgreSQL fail the query.
    let email = match Text::parse(&form.email, "The email address") {
        Ok(email) => email,
        Err(refused) => {
            let page = SignInPage {
                csrf: form.csrf,
                email: String::new(),
                error: Some(refused.to_string()),
                ended: false,
                next: checked_next(&form.next),
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let replaced = session::replaced_token(&state, &jar);
    let device = session::device_token(&state, &jar);
    let outcome = auth::sign_in(
        &state,
        email.as_str(),
        form.password,
        &ip,
        replaced.as_deref(),
        device.as_deref(),
    );
    let (status, error) = match outcome.await? {
        SignIn::Welcome {
            token,
            device_token,
            ..
        } => {
            let mut jar = session::with_session(&state, jar, token);
            if let Some(device_token) = device_token {
                jar = session::with_device(&state, jar, device_token);
            }
            let next = LocalPath::parse(&form.next);
            return Ok((jar, after_sign_in(next.as_ref())).into_response());
        }
        SignIn::SecondFactor { token } => {
            let jar = session::with_session(&state, jar, token);
            return Ok((jar, Page::SecondFactor.redirect()).into_response());
        }
        SignIn::Locked { wait_secs } => (StatusCode::TOO_MANY_REQUESTS, locked_message(wait_secs)),
        SignIn::Refused => (StatusCode::UNAUTHORIZED, WRONG_CREDENTIALS.to_owned()),
    };
    let page = SignInPage {
        csrf: form.csrf,
        email: email.into_string(),
        error: Some(error),
        ended: false,
        next: checked_next(&form.next),
    };
    Ok((status, page).into_response())
}

pub(super) fn locked_message(wait_secs: i64) -> String {
    let minutes = (wait_secs + 59) / 60;
    format!(
        "Too many failed sign-ins for this address. Try again in {minutes} minute{}. Mail apps using app passwords keep working.",
        if minutes == 1 { "" } else { "s" }
    )
}

pub async fn sign_out(
    State(state): State<AppState>,
    MayEnrol(current): MayEnrol,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
) -> AppResult<Response> {
    let actor = current.actor(&ip);
    auth::sign_out(&state, &current.token_digest, actor).await?;
    Ok((session::end_cookie(&state, jar), Page::SignIn.redirect()).into_response())
}

/// Ends every browser session of the user, this one included.
pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    MayEnrol(current): MayEnrol,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
) -> AppResult<Response> {
    let actor = current.actor(&ip);
    auth::sign_out_everywhere(&state, actor).await?;
    Ok((session::end_cookie(&state, jar), Page::SignIn.redirect()).into_response())
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

impl SetupPage {
    fn new(state: &AppState, csrf: String, token: String, email: String) -> Self {
        Self {
            csrf,
            token,
            email,
            min_length: state.settings.min_password_length,
            error: None,
        }
    }
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
    let page = SetupPage::new(&state, csrf, token, String::new());
    Ok((jar, page).into_response())
}

/// A setup link works once, before it expires, and only while no admin exists: an older
/// link printed by an earlier start cannot make a second admin.
async fn setup_usable(state: &AppState, digest: &str) -> AppResult<bool> {
    Ok(
        setup_tokens::is_usable(&state.db, digest, state.now()).await?
            && !crate::store::users::any_admin(&state.db).await?,
    )
}

#[derive(Deserialize)]
pub struct SetupForm {
    csrf: String,
    email: String,
    password: SecretString,
    confirm: SecretString,
}

/// The first admin as typed into the setup form, or what is wrong with the form.
fn first_admin(
    email: &str,
    password: SecretString,
    confirm: &SecretString,
) -> Result<NewAccount, String> {
    let email = Username::parse(email).map_err(|e| e.to_string())?;
    if password.expose_secret() != confirm.expose_secret() {
        return Err("The two passwords differ.".into());
    }
    Ok(NewAccount {
        email,
        password,
        admin: true,
    })
}

pub async fn setup(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(form): Form<SetupForm>,
) -> AppResult<Response> {
    let digest = token_digest(&token);
    if !setup_usable(&state, &digest).await? {
        return Err(AppError::LinkExpired);
    }
    let origin = Origin::SetupLink {
        digest: &digest,
        ip: &ip,
    };
    let created = match first_admin(&form.email, form.password, &form.confirm) {
        Ok(new) => users::create(&state, new, origin)
            .await?
            .map_err(|refused| refused.to_string()),
        Err(message) => Err(message),
    };
    match created {
        Ok(user_id) => {
            let jar = session::start(&state, jar, user_id, &ip).await?;
            Ok((jar, Page::Dashboard.redirect()).into_response())
        }
        Err(message) => {
            let page = SetupPage {
                error: Some(message),
                ..SetupPage::new(&state, form.csrf, token, form.email)
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}
