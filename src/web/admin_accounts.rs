//! Admin → Accounts: search by address, filter by flags, sort by address or last activity,
//! fifty at a time (`services::accounts`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use serde::Deserialize;

use super::format::optional_timestamp;
use super::session::AdminUser;
use super::{AppState, Nav};
use crate::domain::UserId;
use crate::error::AppResult;
use crate::services::accounts;
use crate::store::account_search::{AccountFilter, AccountSort, Cursor};

pub struct UserSummary {
    pub id: UserId,
    pub email: String,
    pub role: &'static str,
    pub disabled: bool,
    pub must_reset: bool,
    pub main_imap: bool,
    pub live_passwords: i64,
    pub last_activity: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/users.page.html")]
pub struct UsersPage {
    pub nav: Nav,
    pub users: Vec<UserSummary>,
    pub q: String,
    /// The filter and sort as their query values.
    pub filter: String,
    pub sort: String,
    /// The query string of the next page, when there is one.
    pub next: Option<String>,
    /// The doveadm API failed its start-up check.
    pub doveadm_warning: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    filter: AccountFilter,
    #[serde(default)]
    sort: AccountSort,
    /// The last row of the previous page: an address, or `TIME.ID` by activity.
    #[serde(default)]
    after: Option<String>,
}

pub(crate) fn cursor_of(sort: AccountSort, after: Option<&str>) -> Option<Cursor> {
    let after = after?;
    match sort {
        AccountSort::Address => Some(Cursor::Address(after.to_owned())),
        AccountSort::Activity => {
            let (at, id) = after.split_once('.')?;
            Some(Cursor::Activity {
                at: at.parse().ok()?,
                id: UserId(id.parse().ok()?),
            })
        }
    }
}

pub(crate) fn after_of(cursor: &Cursor) -> String {
    match cursor {
        Cursor::Address(email) => email.clone(),
        Cursor::Activity { at, id } => format!("{at}.{id}"),
    }
}

fn label<T: serde::Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub async fn users(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Query(query): Query<ListQuery>,
) -> AppResult<UsersPage> {
    let cursor = cursor_of(query.sort, query.after.as_deref());
    let page = accounts::list(&state, &query.q, query.filter, query.sort, cursor.as_ref()).await?;
    let next = page.next.as_ref().map(|cursor| {
        serde_urlencoded::to_string([
            ("q", query.q.clone()),
            ("filter", label(query.filter)),
            ("sort", label(query.sort)),
            ("after", after_of(cursor)),
        ])
        .unwrap_or_default()
    });
    let users = page
        .accounts
        .into_iter()
        .map(|a| UserSummary {
            id: a.user.id,
            role: a.user.role().as_str(),
            main_imap: a.user.main_imap_allowed && !a.user.main_imap_admin_blocked,
            email: a.user.email,
            disabled: a.user.disabled,
            must_reset: a.user.must_reset,
            live_passwords: a.live_passwords,
            last_activity: optional_timestamp(Some(a.last_activity_at).filter(|t| *t > 0), "never"),
        })
        .collect();
    Ok(UsersPage {
        nav: Nav::of(&admin),
        users,
        q: query.q,
        filter: label(query.filter),
        sort: label(query.sort),
        next,
        doveadm_warning: super::admin_dovecot::doveadm_warning(&state),
    })
}
