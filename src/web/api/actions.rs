//! Acting through the API (read-write tokens only): invite an account, revoke one or every
//! app password of an account, the compromised-account response (bulk revocation is
//! [`super::bulk`]). Each is the service the pages and the command line use, with the token's
//! creator as the actor and the token named in the audit entry.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::openapi::Problem;
use super::{ApiJson, ApiPath, ApiWriter};
use crate::domain::{AppPasswordId, Text, UserId, Username};
use crate::dovecot::doveadm::SessionSync;
use crate::error::{AppError, AppResult};
use crate::services::admin::{self, CompromiseReport};
use crate::services::credentials::{self, clean_reason};
use crate::services::{accounts, invitations};
use crate::web::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct InvitationRequest {
    pub email: String,
    /// Invite as an admin (only a superadmin's token may).
    #[serde(default)]
    pub admin: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Invitation {
    pub email: String,
    /// The link the invited person opens to choose a password: shown only in this answer,
    /// working once.
    pub link: String,
    /// Unix time.
    pub expires_at: i64,
}

/// Creates an account by invitation.
#[utoipa::path(
    post,
    path = "/api/v1/invitations",
    tag = "accounts",
    request_body = InvitationRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The invitation link, shown once", body = Invitation),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token, or an admin invitation by a plain admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An account with this address exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an email address", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn invite(
    State(state): State<AppState>,
    ApiWriter(caller): ApiWriter,
    ApiJson(body): ApiJson<InvitationRequest>,
) -> AppResult<(StatusCode, Json<Invitation>)> {
    let typed = Text::parse(&body.email, "The email address")?;
    let email = Username::parse(typed.as_str()).map_err(|e| AppError::Invalid(e.to_string()))?;
    let invited = invitations::invite(&state, &email, body.admin, &caller.actor())
        .await?
        .map_err(|_| AppError::Conflict("An account with this email address exists already."))?;
    let base = state.settings.base_url();
    Ok((
        StatusCode::CREATED,
        Json(Invitation {
            email: email.as_str().to_owned(),
            link: format!("{base}/invite/{}", invited.token.expose_secret()),
            expires_at: invited.expires_at,
        }),
    ))
}

/// Why an action was taken; it goes into the audit log.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct Reason {
    #[serde(default)]
    pub reason: String,
}

/// Why, required: the compromise response is not run without a reason.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RequiredReason {
    #[schema(min_length = 1)]
    pub reason: String,
}

fn reason_of(body: &Reason) -> AppResult<String> {
    Ok(clean_reason(&Text::parse(&body.reason, "The reason")?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    /// App passwords revoked.
    pub revoked: u64,
    /// What Dovecot did: `ended` (live sessions closed), `kept` (no doveadm API
    /// configured) or `failed`.
    pub mail_server: SessionSync,
}

/// Revokes one app password of an account.
#[utoipa::path(
    post,
    path = "/api/v1/accounts/{id}/app-passwords/{password_id}/revoke",
    tag = "actions",
    params(
        ("id" = i64, Path, description = "The account's id"),
        ("password_id" = i64, Path, description = "The app password's id"),
    ),
    request_body = Reason,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Revoked", body = Revoked),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token, or an account of higher standing", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such live app password of this account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The body is not the JSON described", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_one(
    State(state): State<AppState>,
    ApiWriter(caller): ApiWriter,
    ApiPath((id, password_id)): ApiPath<(UserId, AppPasswordId)>,
    ApiJson(body): ApiJson<Reason>,
) -> AppResult<Json<Revoked>> {
    let owner = accounts::find(&state, id).await?;
    let reason = reason_of(&body)?;
    let actor = caller.actor();
    let mail_server = credentials::revoke_one(&state, &owner, password_id, &actor, &reason).await?;
    Ok(Json(Revoked {
        revoked: 1,
        mail_server,
    }))
}

/// Revokes every app password of an account.
#[utoipa::path(
    post,
    path = "/api/v1/accounts/{id}/revoke-all",
    tag = "actions",
    params(("id" = i64, Path, description = "The account's id")),
    request_body = Reason,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Revoked", body = Revoked),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token, or an account of higher standing", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The body is not the JSON described", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_all(
    State(state): State<AppState>,
    ApiWriter(caller): ApiWriter,
    ApiPath(id): ApiPath<UserId>,
    ApiJson(body): ApiJson<Reason>,
) -> AppResult<Json<Revoked>> {
    let owner = accounts::find(&state, id).await?;
    let reason = reason_of(&body)?;
    let actor = caller.actor();
    let (revoked, mail_server) = credentials::revoke_all(&state, &owner, &actor, &reason).await?;
    Ok(Json(Revoked {
        revoked,
        mail_server,
    }))
}

/// The compromised-account response: revokes every app password, ends every web session,
/// requires a new main password, and closes live IMAP sessions where doveadm is configured.
#[utoipa::path(
    post,
    path = "/api/v1/accounts/{id}/compromised",
    tag = "actions",
    params(("id" = i64, Path, description = "The account's id")),
    request_body = RequiredReason,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Each step's result", body = CompromiseReport),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token, an account of higher standing, or the token creator's own", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No reason given", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn compromised(
    State(state): State<AppState>,
    ApiWriter(caller): ApiWriter,
    ApiPath(id): ApiPath<UserId>,
    ApiJson(body): ApiJson<RequiredReason>,
) -> AppResult<Json<CompromiseReport>> {
    let owner = accounts::find(&state, id).await?;
    let reason = clean_reason(&Text::parse(&body.reason, "The reason")?);
    if reason.is_empty() {
        return Err(AppError::Invalid(
            "Say why in `reason` (it goes into the audit log).".into(),
        ));
    }
    let actor = caller.actor();
    Ok(Json(
        admin::compromised(&state, &owner, &actor, &reason).await?,
    ))
}
