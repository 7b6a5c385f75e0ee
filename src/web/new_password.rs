//! Creating an app password, post/redirect/get: the form posts to `/app-passwords`, which
//! answers 303 to `/app-passwords/{id}/new`, the page that shows the password once (with
//! the mail-app settings, its QR code, the Apple profile and "Test it now"). The plaintext
//! crosses the redirect sealed in the database, bound to this browser session
//! (`services::shown_once`), never in a URL; reloading the page or coming Back to it shows
//! it no more, and never posts the form again.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use secrecy::{ExposeSecret, SecretString};

use super::client_ip::ClientIp;
use super::dashboard::{rejected, CreateForm};
use super::format::optional_timestamp;
use super::mail_setup;
use super::session::{self, CurrentSession, Reauthenticated, SignedIn};
use super::{AppState, Nav};
use crate::domain::app_password::AllowedNets;
use crate::domain::mail_setup::Server;
use crate::domain::{AppPasswordId, AppPasswordName, ExpiryChoice, Scope};
use crate::error::{AppError, AppResult};
use crate::services::credentials::{NewPassword, NotCreated};
use crate::services::shown_once::{self, BrowserSession, Take};
use crate::store::app_passwords::AppPasswordRow;

fn validate(form: &CreateForm) -> Result<NewPassword, String> {
    let name = AppPasswordName::parse(&form.name).map_err(|e| e.to_string())?;
    let expiry = ExpiryChoice::parse(&form.expires)
        .ok_or("Choose when the password expires from the list.")?;
    let scope = if form.scope.is_empty() {
        Some(Scope::Imap)
    } else {
        Scope::parse(&form.scope)
    }
    .ok_or("Choose what the password may be used for from the list.")?;
    let nets = AllowedNets::parse(&form.allowed_nets).map_err(|e| e.to_string())?;
    Ok(NewPassword {
        name,
        expiry,
        scope,
        nets,
    })
}

const DUPLICATE_NAME: &str = "You already have an active app password with this name. Pick another name or revoke the old one.";

/// The cookie token of the session `current` was loaded from: the key its held passwords
/// are sealed with.
fn session_token(state: &AppState, jar: &CookieJar) -> AppResult<SecretString> {
    session::replaced_token(state, jar)
        .map(SecretString::from)
        .ok_or(AppError::SignInRequired)
}

fn show_once_path(id: AppPasswordId) -> String {
    format!("/app-passwords/{id}/new")
}

/// Creating a credential asks for the second factor again when it was given long ago.
pub async fn create(
    State(state): State<AppState>,
    Reauthenticated(current): Reauthenticated,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    Form(form): Form<CreateForm>,
) -> AppResult<Response> {
    let new = match validate(&form) {
        Ok(valid) => valid,
        Err(message) => return rejected(&state, &current, form, message).await,
    };
    let token = session_token(&state, &jar)?;
    let session = BrowserSession {
        token: &token,
        digest: &current.token_digest,
    };
    let actor = current.actor(&ip);
    match shown_once::create(&state, &current.user, &new, actor, &session).await? {
        Ok(id) => Ok(Redirect::to(&show_once_path(id)).into_response()),
        Err(NotCreated::DuplicateName) => {
            rejected(&state, &current, form, DUPLICATE_NAME.into()).await
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard/created.page.html")]
pub struct CreatedPage {
    pub nav: Nav,
    pub id: AppPasswordId,
    pub name: String,
    pub password: SecretString,
    pub username: String,
    pub imap: Server,
    /// The outgoing server, shown only when the password may send mail.
    pub smtp: Option<Server>,
    pub expires: String,
    pub scope: &'static str,
    /// The QR code of the password, an SVG element made by `mail_setup::qr_svg`.
    pub qr_svg: String,
}

impl CreatedPage {
    /// The one place the plaintext is exposed: rendered into this page, once.
    pub fn plaintext(&self) -> &str {
        self.password.expose_secret()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard/shown_already.page.html")]
pub struct ShownAlreadyPage {
    pub nav: Nav,
    pub id: AppPasswordId,
    pub name: String,
    /// Whether the password is still live (so revoking it is offered).
    pub live: bool,
    /// The profile download was refused (rather than the page).
    pub profile: bool,
}

impl ShownAlreadyPage {
    fn of(current: &CurrentSession, row: AppPasswordRow, live: bool, profile: bool) -> Self {
        Self {
            nav: Nav::of(current),
            id: row.id,
            name: row.name,
            live,
            profile,
        }
    }
}

fn scope_of(row: &AppPasswordRow) -> Scope {
    Scope::parse(&row.scope).unwrap_or(Scope::Imap)
}

/// Takes the held password for `purpose` with this browser's session key: the row and the
/// password, or the "shown already" page (410) when it was taken before or has expired.
async fn take(
    state: &AppState,
    current: &CurrentSession,
    jar: &CookieJar,
    id: AppPasswordId,
    purpose: Take,
) -> AppResult<Result<(AppPasswordRow, SecretString), Response>> {
    let token = session_token(state, jar)?;
    let session = BrowserSession {
        token: &token,
        digest: &current.token_digest,
    };
    let (row, plaintext) = shown_once::take(state, &current.user, id, &session, purpose).await?;
    match plaintext {
        Some(password) => Ok(Ok((row, password))),
        None => {
            let live = row.revoked_at.is_none();
            let page = ShownAlreadyPage::of(current, row, live, purpose == Take::Profile);
            Ok(Err((StatusCode::GONE, page).into_response()))
        }
    }
}

/// The show-once page: the password the first time, "shown already" after that (410).
pub async fn show(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    jar: CookieJar,
    Path(id): Path<AppPasswordId>,
) -> AppResult<Response> {
    let (row, password) = match take(&state, &current, &jar, id, Take::Page).await? {
        Ok(taken) => taken,
        Err(shown_already) => return Ok(shown_already),
    };
    let servers = state.settings.mail_client_servers();
    let scope = scope_of(&row);
    let page = CreatedPage {
        nav: Nav::of(&current),
        id,
        name: row.name,
        qr_svg: mail_setup::qr_svg(&password)?,
        password,
        username: current.user.email.clone(),
        imap: servers.imap,
        smtp: (scope == Scope::ImapAndSmtp).then_some(servers.smtp),
        expires: optional_timestamp(row.expires_at, "Never"),
        scope: scope.label(),
    };
    Ok(page.into_response())
}

/// The Apple configuration profile of a new password: once, from its show-once page.
pub async fn profile(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    jar: CookieJar,
    Path(id): Path<AppPasswordId>,
) -> AppResult<Response> {
    let (row, password) = match take(&state, &current, &jar, id, Take::Profile).await? {
        Ok(taken) => taken,
        Err(shown_already) => return Ok(shown_already),
    };
    mail_setup::profile_response(
        &state,
        &current.user.email,
        &row.name,
        scope_of(&row),
        &password,
    )
}
