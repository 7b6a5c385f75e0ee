//! Invitations: an admin invites an address (Admin → Accounts) and gets the link once; the
//! invited person opens it and chooses a password (`services::invitations`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::client_ip::ClientIp;
use super::format::timestamp;
use super::routes::Page;
use super::session::{self, AdminUser};
use super::{AppState, Nav};
use crate::domain::{Text, Username};
use crate::error::AppResult;
use crate::services::invitations;

#[derive(Template, WebTemplate)]
#[template(path = "admin/invitation.page.html")]
pub struct InvitedPage {
    pub nav: Nav,
    pub email: String,
    pub link: Option<String>,
    pub expires: String,
    pub error: Option<String>,
}

#[derive(Deserialize)]
pub struct InviteForm {
    email: String,
    #[serde(default)]
    admin: Option<String>,
}

pub async fn invite(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Form(form): Form<InviteForm>,
) -> AppResult<Response> {
    let typed = Text::parse(&form.email, "The email address")?;
    let mut page = InvitedPage {
        nav: Nav::of(&admin),
        email: typed.as_str().to_owned(),
        link: None,
        expires: String::new(),
        error: None,
    };
    let email = match Username::parse(typed.as_str()) {
        Ok(email) => email,
        Err(e) => {
            page.error = Some(e.to_string());
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let actor = admin.actor(&ip);
    match invitations::invite(&state, &email, form.admin.is_some(), &actor).await? {
        Ok(invited) => {
            let base = state.settings.base_url();
            page.link = Some(format!("{base}/invite/{}", invited.token.expose_secret()));
            page.expires = timestamp(invited.expires_at);
            Ok(page.into_response())
        }
        Err(refused) => {
            page.error = Some(refused.to_string());
            Ok((StatusCode::CONFLICT, page).into_response())
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/invitation.page.html")]
pub struct AcceptPage {
    pub csrf: String,
    pub token: String,
    pub email: String,
    pub min_length: usize,
    pub error: Option<String>,
}

pub async fn accept_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    jar: CookieJar,
) -> AppResult<Response> {
    let invitation = invitations::open(&state, &token).await?;
    let (jar, csrf) = super::csrf::anon_token(&state, jar)?;
    let page = AcceptPage {
        csrf,
        token,
        email: invitation.email,
        min_length: state.settings.min_password_length,
        error: None,
    };
    Ok((jar, page).into_response())
}

#[derive(Deserialize)]
pub struct AcceptForm {
    csrf: String,
    password: SecretString,
    confirm: SecretString,
}

pub async fn accept(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(form): Form<AcceptForm>,
) -> AppResult<Response> {
    let invitation = invitations::open(&state, &token).await?;
    let refused = if form.password.expose_secret() != form.confirm.expose_secret() {
        Some("The two passwords differ.".to_owned())
    } else {
        match invitations::accept(&state, &token, form.password, &ip).await? {
            Ok(user_id) => {
                let jar = session::start(&state, jar, user_id, &ip).await?;
                return Ok((jar, Page::Dashboard.redirect()).into_response());
            }
            Err(refused) => Some(refused.to_string()),
        }
    };
    let page = AcceptPage {
        csrf: form.csrf,
        token,
        email: invitation.email,
        min_length: state.settings.min_password_length,
        error: refused,
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}
