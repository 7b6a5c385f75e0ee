//! The second factor in the browser: the step after a right password (for a session that
//! owes it, [`PendingSignIn`]), and re-authentication before a credential is created
//! ([`super::session::Reauthenticated`] sends the browser here). Codes work without
//! JavaScript; passkeys go through static/passkeys.js and the JSON endpoints here.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use axum_extra::extract::cookie::CookieJar;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use webauthn_rs::prelude::{PublicKeyCredential, RequestChallengeResponse};

use super::auth::locked_message;
use super::client_ip::ClientIp;
use super::routes::Page;
use super::session::{self, CurrentSession, PendingSignIn, ReturnTo, SignedIn};
use super::{AppState, Nav};
use crate::error::AppResult;
use crate::services::second_factor::{self, passkeys, Purpose, Step};

const WRONG_CODE: &str = "That code is not right, or was already used.";
const WRONG_PASSKEY: &str = "That passkey was not accepted.";

#[derive(Template, WebTemplate)]
#[template(path = "auth/second_factor.page.html")]
pub struct StepPage {
    pub csrf: String,
    pub has_passkeys: bool,
    pub error: Option<String>,
}

async fn step_page_for(
    state: &AppState,
    pending: &CurrentSession,
    error: Option<String>,
) -> AppResult<StepPage> {
    let status = second_factor::status(state, pending.user.id).await?;
    Ok(StepPage {
        csrf: pending.session.csrf_token.clone(),
        has_passkeys: !status.passkeys.is_empty(),
        error,
    })
}

pub async fn step_page(
    State(state): State<AppState>,
    PendingSignIn(pending): PendingSignIn,
) -> AppResult<StepPage> {
    step_page_for(&state, &pending, None).await
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: SecretString,
    #[serde(default)]
    then: Option<ReturnTo>,
}

/// The status and message of a refused step.
fn refusal(step: &Step, wrong: &str) -> (StatusCode, String) {
    match step {
        Step::Locked { wait_secs } => (StatusCode::TOO_MANY_REQUESTS, locked_message(*wait_secs)),
        _ => (StatusCode::UNAUTHORIZED, wrong.to_owned()),
    }
}

pub async fn step(
    State(state): State<AppState>,
    PendingSignIn(pending): PendingSignIn,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    let _turn = state.limits.sign_in(&ip).await?;
    let device = session::device_token(&state, &jar);
    let purpose = Purpose::SignIn {
        pending: &pending.token_digest,
        device: device.as_deref(),
    };
    let typed = form.code.expose_secret();
    let outcome = second_factor::check_code(&state, &pending.user, typed, purpose, &ip).await?;
    if let Step::Passed {
        token: Some(token),
        device_token,
    } = outcome
    {
        let jar = signed_in_jar(&state, jar, token, device_token);
        return Ok((jar, Page::Dashboard.redirect()).into_response());
    }
    let (status, message) = refusal(&outcome, WRONG_CODE);
    let page = step_page_for(&state, &pending, Some(message)).await?;
    Ok((status, page).into_response())
}

pub async fn step_options(
    State(state): State<AppState>,
    PendingSignIn(pending): PendingSignIn,
) -> AppResult<Json<RequestChallengeResponse>> {
    let options = passkeys::assertion_options(&state, &pending.user, &pending.token_digest).await?;
    Ok(Json(options))
}

pub async fn step_passkey(
    State(state): State<AppState>,
    PendingSignIn(pending): PendingSignIn,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Json(answer): Json<PublicKeyCredential>,
) -> AppResult<Response> {
    let _turn = state.limits.sign_in(&ip).await?;
    let digest = &pending.token_digest;
    let device = session::device_token(&state, &jar);
    let purpose = Purpose::SignIn {
        pending: digest,
        device: device.as_deref(),
    };
    let outcome =
        passkeys::check_assertion(&state, &pending.user, digest, &answer, purpose, &ip).await?;
    if let Step::Passed {
        token: Some(token),
        device_token,
    } = outcome
    {
        let jar = signed_in_jar(&state, jar, token, device_token);
        let body = serde_json::json!({ "redirect": Page::Dashboard.path() });
        return Ok((jar, Json(body)).into_response());
    }
    let (status, message) = refusal(&outcome, WRONG_PASSKEY);
    Ok((status, Json(serde_json::json!({ "error": message }))).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/reauth.page.html")]
pub struct ReauthPage {
    pub nav: Nav,
    pub then: &'static str,
    pub has_passkeys: bool,
    pub error: Option<String>,
}

#[derive(Deserialize)]
pub struct ThenQuery {
    then: Option<ReturnTo>,
}

async fn reauth_page_for(
    state: &AppState,
    current: &CurrentSession,
    then: ReturnTo,
    error: Option<String>,
) -> AppResult<ReauthPage> {
    let status = second_factor::status(state, current.user.id).await?;
    Ok(ReauthPage {
        nav: Nav::of(current),
        then: then.as_str(),
        has_passkeys: !status.passkeys.is_empty(),
        error,
    })
}

/// Re-authentication is for enrolment changes too, so it takes `MayEnrol`; a user without
/// a second factor has nothing to give and goes straight back.
pub async fn reauth_page(
    State(state): State<AppState>,
    super::session::MayEnrol(current): super::session::MayEnrol,
    Query(query): Query<ThenQuery>,
) -> AppResult<Response> {
    let then = query.then.unwrap_or(ReturnTo::Dashboard);
    if !current.session.has_factor {
        return Ok(then.page().redirect().into_response());
    }
    Ok(reauth_page_for(&state, &current, then, None)
        .await?
        .into_response())
}

pub async fn reauth(
    State(state): State<AppState>,
    super::session::MayEnrol(current): super::session::MayEnrol,
    ClientIp(ip): ClientIp,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    let _turn = state.limits.sign_in(&ip).await?;
    let then = form.then.unwrap_or(ReturnTo::Dashboard);
    let purpose = Purpose::Reauth {
        session: &current.token_digest,
    };
    let typed = form.code.expose_secret();
    let outcome = second_factor::check_code(&state, &current.user, typed, purpose, &ip).await?;
    if let Step::Passed { .. } = outcome {
        return Ok(then.page().redirect().into_response());
    }
    let (status, message) = refusal(&outcome, WRONG_CODE);
    let page = reauth_page_for(&state, &current, then, Some(message)).await?;
    Ok((status, page).into_response())
}

pub async fn reauth_options(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
) -> AppResult<Json<RequestChallengeResponse>> {
    let options = passkeys::assertion_options(&state, &current.user, &current.token_digest).await?;
    Ok(Json(options))
}

#[derive(Deserialize)]
pub struct ReauthPasskeyQuery {
    then: Option<ReturnTo>,
}

pub async fn reauth_passkey(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    ClientIp(ip): ClientIp,
    Query(query): Query<ReauthPasskeyQuery>,
    Json(answer): Json<PublicKeyCredential>,
) -> AppResult<Response> {
    let _turn = state.limits.sign_in(&ip).await?;
    let digest = &current.token_digest;
    let purpose = Purpose::Reauth { session: digest };
    let outcome =
        passkeys::check_assertion(&state, &current.user, digest, &answer, purpose, &ip).await?;
    if let Step::Passed { .. } = outcome {
        let then = query.then.unwrap_or(ReturnTo::Dashboard);
        let body = serde_json::json!({ "redirect": then.page().path() });
        return Ok(Json(body).into_response());
    }
    let (status, message) = refusal(&outcome, WRONG_PASSKEY);
    Ok((status, Json(serde_json::json!({ "error": message }))).into_response())
}

/// The cookies of a completed sign-in: the session's, and a new device cookie if needed.
fn signed_in_jar(
    state: &AppState,
    jar: CookieJar,
    token: String,
    device_token: Option<String>,
) -> CookieJar {
    let jar = session::with_session(state, jar, token);
    match device_token {
        Some(device_token) => session::with_device(state, jar, device_token),
        None => jar,
    }
}
