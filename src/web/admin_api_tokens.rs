//! Admin → API tokens: create a token for the JSON API (shown once, with a copy button),
//! list every token with its last use, and revoke one after a confirmation page. Creating
//! and revoking ask for the admin's password again when their sign-in is not recent, as
//! the other admin actions do (`admin_confirm::recheck`). The use cases are
//! `services::api_tokens`.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::admin_confirm::recheck;
use super::client_ip::ClientIp;
use super::format::optional_timestamp;
use super::format::timestamp;
use super::session::{AdminUser, CurrentSession};
use super::{AppState, Nav};
use crate::domain::api_token::{parse_days, ApiScope, ApiTokenName};
use crate::error::AppResult;
use crate::services::admin::signed_in_recently;
use crate::services::api_tokens;
use crate::store::api_tokens::ApiTokenRow;

const PAGE: &str = "/admin/api-tokens";

pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub scope: &'static str,
    pub creator: String,
    pub created: String,
    pub last_used: String,
    pub expires: String,
    pub status: &'static str,
}

impl TokenView {
    fn of(row: ApiTokenRow, now: i64) -> Self {
        let status = if row.revoked_at.is_some() {
            "revoked"
        } else if row.expires_at.is_some_and(|at| at <= now) {
            "expired"
        } else {
            "active"
        };
        let last_used = match (row.last_used_at, &row.last_used_ip) {
            (Some(at), Some(ip)) => format!("{} from {ip}", timestamp(at)),
            (at, _) => optional_timestamp(at, "never"),
        };
        Self {
            id: row.id,
            scope: ApiScope::of(row.read_write).as_str(),
            creator: row.creator_email,
            created: timestamp(row.created_at),
            last_used,
            expires: optional_timestamp(row.expires_at, "never"),
            status,
            name: row.name,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/api_tokens.page.html")]
pub struct TokensPage {
    pub nav: Nav,
    pub tokens: Vec<TokenView>,
    pub ask_password: bool,
    pub error: Option<String>,
    pub notice: Option<&'static str>,
    /// The form as typed, kept after a refusal.
    pub name: String,
    pub days: String,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    revoked: Option<String>,
}

async fn tokens_page(state: &AppState, admin: &CurrentSession) -> AppResult<TokensPage> {
    let now = state.now();
    let tokens = api_tokens::list(state)
        .await?
        .into_iter()
        .map(|row| TokenView::of(row, now))
        .collect();
    Ok(TokensPage {
        nav: Nav::of(admin),
        tokens,
        ask_password: !signed_in_recently(state, admin.session.created_at),
        error: None,
        notice: None,
        name: String::new(),
        days: String::new(),
    })
}

pub async fn show(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Query(query): Query<ListQuery>,
) -> AppResult<TokensPage> {
    let mut page = tokens_page(&state, &admin).await?;
    if query.revoked.is_some() {
        page.notice = Some("The token was revoked: requests with it are refused from now on.");
    }
    Ok(page)
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/api_token_created.page.html")]
pub struct CreatedPage {
    pub nav: Nav,
    pub name: String,
    pub scope: &'static str,
    pub token: String,
    pub expires: String,
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    days: String,
    #[serde(default)]
    password: Option<SecretString>,
}

pub async fn create(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Form(form): Form<CreateForm>,
) -> AppResult<Response> {
    let parsed = ApiTokenName::parse(&form.name).and_then(|name| {
        let days = parse_days(&form.days)?;
        Ok((name, days))
    });
    let scope = ApiScope::parse(&form.scope);
    let (name, days, scope) = match (parsed, scope) {
        (Ok((name, days)), Some(scope)) => (name, days, scope),
        (refused, _) => {
            let mut page = tokens_page(&state, &admin).await?;
            page.error = Some(match refused {
                Err(why) => why.to_string(),
                Ok(_) => "Choose read-only or read-write.".to_owned(),
            });
            page.name = form.name;
            page.days = form.days;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    recheck(&state, &admin, form.password, &ip).await?;
    let actor = admin.actor(&ip);
    let created = api_tokens::create(&state, &admin.user, &name, scope, days, &actor).await?;
    Ok(CreatedPage {
        nav: Nav::of(&admin),
        name: name.as_str().to_owned(),
        scope: scope.as_str(),
        token: created.token.expose_secret().to_owned(),
        expires: optional_timestamp(created.expires_at, "never"),
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/api_token_revoke.page.html")]
pub struct RevokePage {
    pub nav: Nav,
    pub token: TokenView,
    pub ask_password: bool,
}

/// Asks the admin to confirm revoking a token.
pub async fn confirm_revoke(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<i64>,
) -> AppResult<RevokePage> {
    let token = api_tokens::find(&state, id).await?;
    Ok(RevokePage {
        nav: Nav::of(&admin),
        token: TokenView::of(token, state.now()),
        ask_password: !signed_in_recently(&state, admin.session.created_at),
    })
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    password: Option<SecretString>,
}

pub async fn revoke(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    Form(form): Form<RevokeForm>,
) -> AppResult<Redirect> {
    recheck(&state, &admin, form.password, &ip).await?;
    let actor = admin.actor(&ip);
    // Revoked already (a second click, another admin): the same answer, nothing to do.
    api_tokens::revoke(&state, id, &actor).await?;
    Ok(Redirect::to(&format!("{PAGE}?revoked=1")))
}
