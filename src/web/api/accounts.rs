//! Reading accounts: the admin list's search, filters and keyset pages, and one account with
//! its app passwords (`services::accounts`).

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiPath, ApiQuery, ApiReader};
use crate::domain::{AppPasswordStatus, Role, UserId};
use crate::error::AppResult;
use crate::services::accounts;
use crate::store::account_search::{AccountFilter, AccountSort};
use crate::store::app_passwords::AppPasswordRow;
use crate::store::users::UserRow;
use crate::web::admin_accounts::{after_of, cursor_of};
use crate::web::AppState;

/// The search of the account list, as on Admin → Accounts.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Part of the address (a prefix or any substring), case-insensitive.
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    #[param(inline)]
    pub filter: AccountFilter,
    #[serde(default)]
    #[param(inline)]
    pub sort: AccountSort,
    /// Where the page continues: `next_after` of the previous page.
    #[serde(default)]
    pub after: Option<String>,
}

/// An account in the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListedAccount {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub disabled: bool,
    /// The owner must choose a new main password before anything else.
    pub must_reset: bool,
    /// The main password works for IMAP.
    pub main_password_imap: bool,
    pub live_app_passwords: i64,
    /// Unix time of the last sign-in or IMAP login; none if never.
    pub last_activity_at: Option<i64>,
}

/// A page of accounts, 50 at most.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountList {
    pub accounts: Vec<ListedAccount>,
    /// Pass as `after` (with the same `q`, `filter` and `sort`) for the next page; none on
    /// the last page.
    pub next_after: Option<String>,
}

fn main_imap(user: &UserRow) -> bool {
    user.main_imap_allowed && !user.main_imap_admin_blocked
}

/// Lists accounts.
#[utoipa::path(
    get,
    path = "/api/v1/accounts",
    tag = "accounts",
    params(ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of accounts", body = AccountList),
        (status = 401, description = "No valid token", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is invalid", body = super::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    ApiReader(_caller): ApiReader,
    ApiQuery(params): ApiQuery<ListParams>,
) -> AppResult<Json<AccountList>> {
    let cursor = cursor_of(params.sort, params.after.as_deref());
    let page = accounts::list(
        &state,
        &params.q,
        params.filter,
        params.sort,
        cursor.as_ref(),
    )
    .await?;
    let accounts = page
        .accounts
        .into_iter()
        .map(|a| ListedAccount {
            id: a.user.id.get(),
            role: a.user.role(),
            main_password_imap: main_imap(&a.user),
            email: a.user.email,
            disabled: a.user.disabled,
            must_reset: a.user.must_reset,
            live_app_passwords: a.live_passwords,
            last_activity_at: Some(a.last_activity_at).filter(|t| *t > 0),
        })
        .collect();
    Ok(Json(AccountList {
        accounts,
        next_after: page.next.as_ref().map(after_of),
    }))
}

/// An account.
#[derive(Debug, Serialize, ToSchema)]
pub struct Account {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub disabled: bool,
    pub must_reset: bool,
    pub main_password_imap: bool,
    /// Unix time.
    pub created_at: i64,
}

/// An app password: never its secret, only what is known about it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppPassword {
    pub id: i64,
    pub name: String,
    /// The first characters of the password, which tell it apart.
    pub lookup_id: String,
    /// `imap` or `imap+smtp`.
    pub scope: String,
    /// Networks it works from (Dovecot's `allow_nets`); none: anywhere.
    pub allowed_nets: Option<String>,
    /// `active`, `expired` or `revoked`.
    pub status: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    /// `imap` or `smtp`.
    pub last_used_protocol: Option<String>,
    pub revoked_at: Option<i64>,
    pub revoked_reason: Option<String>,
}

impl AppPassword {
    fn of(row: AppPasswordRow, now: i64) -> Self {
        Self {
            id: row.id.get(),
            status: AppPasswordStatus::of(row.revoked_at, row.expires_at, now)
                .label()
                .to_owned(),
            name: row.name,
            lookup_id: row.lookup_id,
            scope: row.scope,
            allowed_nets: row.allowed_nets,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            last_used_ip: row.last_used_ip,
            last_used_protocol: row.last_used_protocol,
            revoked_at: row.revoked_at,
            revoked_reason: row.revoked_reason,
        }
    }
}

/// An account and every app password it has or had, live first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountDetail {
    pub account: Account,
    pub app_passwords: Vec<AppPassword>,
}

/// Reads an account and its app passwords.
#[utoipa::path(
    get,
    path = "/api/v1/accounts/{id}",
    tag = "accounts",
    params(("id" = i64, Path, description = "The account's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = AccountDetail),
        (status = 401, description = "No valid token", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account", body = super::openapi::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    ApiReader(_caller): ApiReader,
    ApiPath(id): ApiPath<UserId>,
) -> AppResult<Json<AccountDetail>> {
    let (user, passwords) = accounts::with_app_passwords(&state, id).await?;
    let now = state.now();
    let mut app_passwords: Vec<AppPassword> = passwords
        .into_iter()
        .map(|row| AppPassword::of(row, now))
        .collect();
    app_passwords.sort_by_key(|p| p.status != "active");
    Ok(Json(AccountDetail {
        account: Account {
            id: user.id.get(),
            role: user.role(),
            main_password_imap: main_imap(&user),
            email: user.email,
            disabled: user.disabled,
            must_reset: user.must_reset,
            created_at: user.created_at,
        },
        app_passwords,
    }))
}
