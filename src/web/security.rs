//! The account's second factors (`/account/second-factor`): enrolling an authenticator app
//! (QR code and secret, active once a code is confirmed), the recovery codes (shown once),
//! and passkeys (registered through static/passkeys.js). Removing a factor or making new
//! recovery codes asks for the second factor again when it was given long ago.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use webauthn_rs::prelude::{CreationChallengeResponse, RegisterPublicKeyCredential};

use super::client_ip::ClientIp;
use super::format::timestamp;
use super::routes::Page;
use super::session::{CurrentSession, MayEnrol, ReauthenticatedMayEnrol};
use super::{AppState, Nav};
use crate::domain::{Name, PasskeyId};
use crate::error::{AppError, AppResult};
use crate::infra::totp::qr_svg;
use crate::services::second_factor::totp::{self, Confirmed};
use crate::services::second_factor::{self, passkeys, recovery};

pub struct PasskeyView {
    pub id: PasskeyId,
    pub name: String,
    pub created: String,
    pub last_used: String,
}

/// An authenticator app waiting to be confirmed.
pub struct Enrolment {
    /// The QR code, an `<svg>` element made here from the secret (safe to insert as is).
    pub qr_svg: String,
    pub secret: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "account/second_factor.page.html")]
pub struct SecurityPage {
    pub nav: Nav,
    pub must_enrol: bool,
    pub totp_active: bool,
    pub enrolment: Option<Enrolment>,
    pub recovery_left: i64,
    pub passkeys: Vec<PasskeyView>,
    pub error: Option<String>,
}

async fn page_for(
    state: &AppState,
    current: &CurrentSession,
    error: Option<String>,
) -> AppResult<SecurityPage> {
    let status = second_factor::status(state, current.user.id).await?;
    let enrolment = match totp::unconfirmed(state, current.user.id).await? {
        Some(secret) => {
            let uri = secret.otpauth_uri("Mailkeys", &current.user.email);
            Some(Enrolment {
                qr_svg: qr_svg(&uri).map_err(AppError::internal)?,
                secret: secret.base32().to_owned(),
            })
        }
        None => None,
    };
    let passkeys = status
        .passkeys
        .into_iter()
        .map(|p| PasskeyView {
            id: p.id,
            name: p.name,
            created: timestamp(p.created_at),
            last_used: p.last_used_at.map_or_else(|| "Never".to_owned(), timestamp),
        })
        .collect();
    Ok(SecurityPage {
        nav: Nav::of(current),
        must_enrol: current.must_enrol,
        totp_active: status.totp_active,
        enrolment,
        recovery_left: status.recovery_left,
        passkeys,
        error,
    })
}

pub async fn index(
    State(state): State<AppState>,
    MayEnrol(current): MayEnrol,
) -> AppResult<SecurityPage> {
    page_for(&state, &current, None).await
}

pub async fn totp_start(
    State(state): State<AppState>,
    ReauthenticatedMayEnrol(current): ReauthenticatedMayEnrol,
    ClientIp(ip): ClientIp,
) -> AppResult<Redirect> {
    totp::start(&state, current.actor(&ip)).await?;
    Ok(Redirect::to(&format!("{}#totp", Page::Security.path())))
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    code: SecretString,
}

#[derive(Template, WebTemplate)]
#[template(path = "account/recovery_codes.page.html")]
pub struct RecoveryCodesPage {
    pub nav: Nav,
    pub codes: Vec<String>,
}

/// The codes, shown this once: never cached, never shown again.
fn show_codes(current: &CurrentSession, codes: Vec<String>) -> Response {
    let page = RecoveryCodesPage {
        nav: Nav::of(current),
        codes,
    };
    (
        StatusCode::CREATED,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        page,
    )
        .into_response()
}

pub async fn totp_confirm(
    State(state): State<AppState>,
    MayEnrol(current): MayEnrol,
    ClientIp(ip): ClientIp,
    Form(form): Form<ConfirmForm>,
) -> AppResult<Response> {
    let typed = form.code.expose_secret();
    let actor = current.actor(&ip);
    match totp::confirm(&state, actor, &current.token_digest, typed).await? {
        Confirmed::Active {
            recovery_codes: Some(codes),
        } => Ok(show_codes(&current, codes)),
        Confirmed::Active {
            recovery_codes: None,
        } => Ok(Page::Security.redirect().into_response()),
        Confirmed::WrongCode => {
            let message = "That code is not the app's current one. Check the time on the phone and try again.";
            let page = page_for(&state, &current, Some(message.to_owned())).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

pub async fn totp_remove(
    State(state): State<AppState>,
    ReauthenticatedMayEnrol(current): ReauthenticatedMayEnrol,
    ClientIp(ip): ClientIp,
) -> AppResult<Redirect> {
    totp::remove(&state, current.actor(&ip)).await?;
    Ok(Page::Security.redirect())
}

pub async fn new_recovery_codes(
    State(state): State<AppState>,
    ReauthenticatedMayEnrol(current): ReauthenticatedMayEnrol,
    ClientIp(ip): ClientIp,
) -> AppResult<Response> {
    let codes = recovery::regenerate(&state, current.actor(&ip)).await?;
    Ok(show_codes(&current, codes))
}

pub async fn passkey_options(
    State(state): State<AppState>,
    ReauthenticatedMayEnrol(current): ReauthenticatedMayEnrol,
) -> AppResult<Json<CreationChallengeResponse>> {
    let options =
        passkeys::registration_options(&state, &current.user, &current.token_digest).await?;
    Ok(Json(options))
}

#[derive(Deserialize)]
pub struct NewPasskey {
    name: String,
    credential: RegisterPublicKeyCredential,
}

/// Stores a new passkey; answers with the recovery codes when it was the first factor, for
/// the script to show once.
pub async fn passkey_register(
    State(state): State<AppState>,
    MayEnrol(current): MayEnrol,
    ClientIp(ip): ClientIp,
    Json(new): Json<NewPasskey>,
) -> AppResult<Json<serde_json::Value>> {
    let typed = if new.name.trim().is_empty() {
        "Passkey"
    } else {
        new.name.as_str()
    };
    let name = Name::parse(typed, "The passkey's name")?;
    let actor = current.actor(&ip);
    let codes =
        passkeys::register(&state, actor, &current.token_digest, &name, &new.credential).await?;
    Ok(Json(serde_json::json!({ "recovery_codes": codes })))
}

pub async fn passkey_remove(
    State(state): State<AppState>,
    ReauthenticatedMayEnrol(current): ReauthenticatedMayEnrol,
    ClientIp(ip): ClientIp,
    Path(id): Path<PasskeyId>,
) -> AppResult<Redirect> {
    passkeys::remove(&state, current.actor(&ip), id).await?;
    Ok(Page::Security.redirect())
}
