//! The JSON API under `/api/v1`, for scripts and ticketing systems: bearer tokens that an
//! admin creates (`services::api_tokens`), never session cookies. Authorization is in the
//! extractors: a handler taking [`ApiReader`] runs only for a valid token, one taking
//! [`ApiWriter`] only for a read-write one. Errors are RFC 9457 problem details (the
//! `/api/` rendering of `AppError`); the OpenAPI 3.1 document is [`openapi`].

pub mod accounts;
pub mod actions;
pub mod audit;
pub mod bulk;
pub mod openapi;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use super::client_ip::ClientIp;
use super::AppState;
use crate::domain::api_token::ApiScope;
use crate::error::{AppError, AppResult};
use crate::services::api_tokens::{self, Authenticated};
use crate::services::credentials::Actor;

/// Every path of the API starts with this.
pub const PREFIX: &str = "/api/v1/";

/// The token of an `Authorization: Bearer TOKEN` header value (scheme in any case).
pub fn bearer_of(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

pub(crate) const MISSING: &str = "Send an API token as `Authorization: Bearer TOKEN`. An admin creates tokens on /admin/api-tokens; session cookies are not accepted here.";
const REFUSED: &str =
    "This API token is unknown, expired or revoked, or its creator is no longer an active admin.";

/// A request made with a valid token, from an address.
pub struct ApiCaller {
    pub auth: Authenticated,
    pub ip: String,
}

impl ApiCaller {
    /// The token's creator as the actor of a service call, the token named in the audit log.
    pub fn actor(&self) -> Actor<'_> {
        Actor {
            user_id: self.auth.creator.id,
            role: self.auth.creator.role(),
            ip: &self.ip,
            via_token: Some(&self.auth.token.name),
        }
    }
}

/// A caller with a valid token of either scope: for reading.
pub struct ApiReader(pub ApiCaller);

impl FromRequestParts<AppState> for ApiReader {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> AppResult<Self> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(AppError::BearerRequired(MISSING))?;
        let token = bearer_of(header)
            .map(|t| SecretString::from(t.to_owned()))
            .ok_or(AppError::BearerRequired(MISSING))?;
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
        let auth = api_tokens::authenticate(state, token.expose_secret(), &ip)
            .await?
            .ok_or(AppError::BearerRequired(REFUSED))?;
        Ok(ApiReader(ApiCaller { auth, ip }))
    }
}

/// A caller with a valid read-write token: for acting.
pub struct ApiWriter(pub ApiCaller);

impl FromRequestParts<AppState> for ApiWriter {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> AppResult<Self> {
        let ApiReader(caller) = ApiReader::from_request_parts(parts, state).await?;
        if caller.auth.scope() != ApiScope::ReadWrite {
            return Err(AppError::Forbidden(
                "This API token is read-only: it can read (GET) but not act.",
            ));
        }
        Ok(ApiWriter(caller))
    }
}

/// A JSON body whose refusal is problem details (axum's own `Json` answers in plain text).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> AppResult<Self> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|axum::Json(value)| ApiJson(value))
            .map_err(|rejection| AppError::Invalid(rejection.body_text()))
    }
}

/// A query string whose refusal is problem details.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> AppResult<Self> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|rejection| AppError::Invalid(rejection.body_text()))
    }
}

/// A path whose refusal (a non-numeric id) is problem details.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> AppResult<Self> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|_| AppError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::bearer_of;

    #[test]
    fn only_a_bearer_header_yields_a_token() {
        assert_eq!(bearer_of("Bearer mk_abc"), Some("mk_abc"));
        assert_eq!(bearer_of("bearer  mk_abc "), Some("mk_abc"));
        assert_eq!(bearer_of("Basic dXNlcjpwYXNz"), None);
        assert_eq!(bearer_of("Bearer "), None);
        assert_eq!(bearer_of("Bearer"), None);
    }
}
