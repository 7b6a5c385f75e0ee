//! Sessions: loading the signed-in user for each request, and the extractors that demand
//! one. Authorization lives in the types: a handler taking [`SignedIn`] cannot run for a
//! visitor, one taking [`AdminUser`] cannot run for a non-admin.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

use super::AppState;
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
}

impl CurrentSession {
    /// The signed-in user as the actor of a service call made from `ip`.
    pub fn actor<'a>(&self, ip: &'a str) -> Actor<'a> {
        Actor {
            user_id: self.user.id,
            ip,
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
        Ok(Some(current)) => {
            req.extensions_mut().insert(current);
            next.run(req).await
        }
        Ok(None) => next.run(req).await,
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
    if idle || too_old || user.disabled {
        sessions::delete(&state.db.pool, &digest).await?;
        return Ok(None);
    }
    if now - session.last_seen_at >= TOUCH_EVERY_SECS {
        sessions::touch(&state.db, &digest, now).await?;
    }
    Ok(Some(CurrentSession {
        token_digest: digest,
        session,
        user,
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

/// A signed-in user; visitors are sent to the sign-in page.
pub struct SignedIn(pub CurrentSession);

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Browsers are sent to the sign-in form; scripts on /api/ get a plain 401.
        let missing = if parts.uri.path().starts_with("/api/") {
            AppError::NotSignedIn
        } else {
            AppError::SignInRequired
        };
        parts
            .extensions
            .get::<CurrentSession>()
            .cloned()
            .map(SignedIn)
            .ok_or(missing)
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
