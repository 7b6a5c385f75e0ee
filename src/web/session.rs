//! Sessions: loading the signed-in user for each request, and the extractors that demand
//! one. Authorization lives in the types: a handler taking [`SignedIn`] cannot run for a
//! visitor, one taking [`AdminUser`] cannot run for a non-admin.
//!
//! A session still owing its second factor is put into the request as a
//! [`PendingSecondFactor`], never as a [`CurrentSession`]: every extractor but
//! [`PendingSignIn`] refuses it. A signed-in user whom `require_second_factor` obliges to
//! enrol and who has not is refused by [`SignedIn`] (and so [`AdminUser`]) and sent to
//! enrolment; only [`MayEnrol`] lets them through, for the enrolment page and signing out.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

use super::AppState;
use crate::domain::second_factor::{SessionStage, PENDING_SECS};
use crate::domain::UserId;
use crate::error::{AppError, AppResult};
use crate::infra::random::token_digest;
use crate::services::credentials::Actor;
use crate::store::sessions::{self, SessionRow};
use crate::store::users::UserRow;

/// Refresh `last_seen_at` at most this often, to spare the database a write per request.
const TOUCH_EVERY_SECS: i64 = 60;

#[derive(Clone, Debug)]
pub struct CurrentSession {
    pub token_digest: String,
    pub session: SessionRow,
    pub user: UserRow,
    /// `require_second_factor` applies to this user, who has no second factor yet.
    pub must_enrol: bool,
}

/// A session whose password was right and whose second factor is still owed.
#[derive(Clone, Debug)]
pub struct PendingSecondFactor(pub CurrentSession);

impl CurrentSession {
    /// The signed-in user as the actor of a service call made from `ip`.
    pub fn actor<'a>(&self, ip: &'a str) -> Actor<'a> {
        Actor {
            user_id: self.user.id,
            role: self.user.role(),
            ip,
            via_token: None,
        }
    }
}

pub fn session_cookie_name(state: &AppState) -> &'static str {
    if state.settings.is_https() {
        "__Host-mailkeys-session"
    } else {
        "mailkeys-session"
    }
}

/// A cookie with the flags every Mailkeys cookie carries.
pub fn hardened_cookie(state: &AppState, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.settings.is_https())
        .build()
}

/// Middleware: puts the [`CurrentSession`] into the request if the cookie names a live one.
pub async fn load(
    State(state): State<AppState>,
    jar: CookieJar,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(cookie) = jar.get(session_cookie_name(&state)) else {
        return next.run(req).await;
    };
    match find_live(&state, cookie.value()).await {
        Ok(Some(current)) if current.session.stage.0 == SessionStage::Pending => {
            req.extensions_mut().insert(PendingSecondFactor(current));
            next.run(req).await
        }
        Ok(Some(current)) => {
            req.extensions_mut().insert(current);
            next.run(req).await
        }
        Ok(None) => {
            // A cookie without a live session: the session ended (web::session_end).
            req.extensions_mut()
                .insert(super::session_end::SessionEnded);
            next.run(req).await
        }
        Err(err) => err.into_response(),
    }
}

async fn find_live(state: &AppState, token: &str) -> AppResult<Option<CurrentSession>> {
    let digest = token_digest(token);
    let Some((session, user)) = sessions::load(&state.db, &digest).await? else {
        return Ok(None);
    };
    let now = state.now();
    let settings = &state.settings;
    let idle = now - session.last_seen_at > settings.session_idle_timeout_secs;
    let too_old = now - session.created_at > settings.session_absolute_timeout_secs;
    let pending_expired =
        session.stage.0 == SessionStage::Pending && now - session.created_at > PENDING_SECS;
    if idle || too_old || pending_expired || user.disabled {
        sessions::delete(&state.db.pool, &digest).await?;
        return Ok(None);
    }
    if now - session.last_seen_at >= TOUCH_EVERY_SECS {
        sessions::touch(&state.db, &digest, now).await?;
    }
    let must_enrol =
        settings.require_second_factor.applies_to(user.is_admin) && !session.has_factor;
    Ok(Some(CurrentSession {
        token_digest: digest,
        session,
        user,
        must_enrol,
    }))
}

/// Starts a fresh session for `user_id` (a new id every time: no fixation) and returns the
/// cookie jar that carries it.
pub async fn start(
    state: &AppState,
    jar: CookieJar,
    user_id: UserId,
    ip: &str,
) -> AppResult<CookieJar> {
    let replaced = replaced_token(state, &jar);
    let token =
        crate::services::auth::start_session(state, user_id, replaced.as_deref(), ip).await?;
    Ok(with_session(state, jar, token))
}

/// The session token the browser still holds, which a new session replaces.
pub fn replaced_token(state: &AppState, jar: &CookieJar) -> Option<String> {
    jar.get(session_cookie_name(state))
        .map(|c| c.value().to_owned())
}

/// The jar carrying the new session `token` (and no longer the anonymous CSRF cookie).
pub fn with_session(state: &AppState, jar: CookieJar, token: String) -> CookieJar {
    let jar = jar.remove(Cookie::from(super::csrf::anon_cookie_name(state)));
    jar.add(hardened_cookie(state, session_cookie_name(state), token))
}

fn device_cookie_name(state: &AppState) -> &'static str {
    if state.settings.is_https() {
        "__Host-mailkeys-device"
    } else {
        "mailkeys-device"
    }
}

/// The browser's device cookie, which tells its sign-ins apart from a new browser's
/// (`services::devices`).
pub fn device_token(state: &AppState, jar: &CookieJar) -> Option<String> {
    jar.get(device_cookie_name(state))
        .map(|c| c.value().to_owned())
}

/// The jar carrying a new device cookie: kept across sessions and sign-outs, for about
/// the longest time browsers keep a cookie (400 days).
pub fn with_device(state: &AppState, jar: CookieJar, token: String) -> CookieJar {
    let mut cookie = hardened_cookie(state, device_cookie_name(state), token);
    cookie.set_max_age(time::Duration::days(400));
    jar.add(cookie)
}

pub fn end_cookie(state: &AppState, jar: CookieJar) -> CookieJar {
    let mut cookie = hardened_cookie(state, session_cookie_name(state), String::new());
    cookie.make_removal();
    jar.add(cookie)
}

/// A signed-in user; visitors are sent to the sign-in page, and users who must enrol a
/// second factor to enrolment.
pub struct SignedIn(pub CurrentSession);

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let MayEnrol(current) = MayEnrol::from_request_parts(parts, state).await?;
        if current.must_enrol {
            return Err(AppError::SecondFactorRequired);
        }
        Ok(SignedIn(current))
    }
}

/// A signed-in user, whether or not they still must enrol a second factor: for the
/// enrolment page and signing out, nothing else.
pub struct MayEnrol(pub CurrentSession);

impl<S: Send + Sync> FromRequestParts<S> for MayEnrol {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Browsers are sent to the sign-in form (saying so if their session ended, and
        // coming back to this page after); scripts on /api/ get a plain 401.
        let ended = parts
            .extensions
            .get::<super::session_end::SessionEnded>()
            .is_some();
        let missing = if parts.uri.path().starts_with("/api/") {
            AppError::NotSignedIn
        } else if ended {
            let back = (parts.method == axum::http::Method::GET)
                .then(|| super::session_end::this_page(parts))
                .flatten();
            AppError::SessionEnded(back)
        } else {
            AppError::SignInRequired
        };
        parts
            .extensions
            .get::<CurrentSession>()
            .cloned()
            .map(MayEnrol)
            .ok_or(missing)
    }
}

/// A session that owes its second factor: only the second-factor step takes it. Anyone
/// else is sent to the sign-in page.
pub struct PendingSignIn(pub CurrentSession);

impl<S: Send + Sync> FromRequestParts<S> for PendingSignIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<PendingSecondFactor>()
            .map(|pending| PendingSignIn(pending.0.clone()))
            .ok_or(AppError::SignInRequired)
    }
}

/// A signed-in admin. Anyone else gets a 404, which reveals nothing about admin pages.
pub struct AdminUser(pub CurrentSession);

impl<S: Send + Sync> FromRequestParts<S> for AdminUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let SignedIn(current) = SignedIn::from_request_parts(parts, state).await?;
        if current.user.is_admin {
            Ok(AdminUser(current))
        } else {
            Err(AppError::NotFound)
        }
    }
}

/// Where re-authentication sends the browser back to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReturnTo {
    Dashboard,
    Security,
    /// The accounts page, after an admin gave the second factor again for a destructive
    /// action (`services::admin::factor_given_recently`).
    Admin,
}

impl ReturnTo {
    pub fn page(self) -> super::routes::Page {
        match self {
            Self::Dashboard => super::routes::Page::Dashboard,
            Self::Security => super::routes::Page::Security,
            Self::Admin => super::routes::Page::Admin,
        }
    }

    /// The page a refused request came from, by its path.
    fn of_path(path: &str) -> Self {
        if path.starts_with("/account") {
            Self::Security
        } else {
            Self::Dashboard
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dashboard => "dashboard",
            Self::Security => "security",
            Self::Admin => "admin",
        }
    }
}

/// Whether `current` must give its second factor again before creating a credential: it
/// has one, and last gave it longer ago than `reauth_after_secs`.
pub fn needs_reauth(state: &AppState, current: &CurrentSession) -> bool {
    current.session.has_factor
        && state.now() - current.session.verified_at > state.settings.reauth_after_secs
}

fn fresh(
    state: &AppState,
    parts: &Parts,
    current: CurrentSession,
) -> Result<CurrentSession, axum::response::Redirect> {
    if needs_reauth(state, &current) {
        let then = ReturnTo::of_path(parts.uri.path());
        let to = format!(
            "{}?then={}",
            super::routes::Page::Reauth.path(),
            then.as_str()
        );
        return Err(axum::response::Redirect::to(&to));
    }
    Ok(current)
}

/// A signed-in user who gave their second factor recently, or has none: what creating or
/// revealing a credential takes. Others are sent to give it again, then back.
pub struct Reauthenticated(pub CurrentSession);

impl FromRequestParts<AppState> for Reauthenticated {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let SignedIn(current) = SignedIn::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        fresh(state, parts, current)
            .map(Reauthenticated)
            .map_err(IntoResponse::into_response)
    }
}

/// [`Reauthenticated`] for the enrolment page's changes, which a user who must still
/// enrol may make.
pub struct ReauthenticatedMayEnrol(pub CurrentSession);

impl FromRequestParts<AppState> for ReauthenticatedMayEnrol {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let MayEnrol(current) = MayEnrol::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        fresh(state, parts, current)
            .map(ReauthenticatedMayEnrol)
            .map_err(IntoResponse::into_response)
    }
}
