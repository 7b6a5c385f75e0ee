//! Admin → failed sign-ins for an address: the attempts made with a typed address, found by
//! its keyed hash although the typed text itself was never stored (`infra::attempt_keys`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use serde::Deserialize;

use super::activity::ActivityView;
use super::session::AdminUser;
use super::{AppState, Nav};
use crate::error::AppResult;
use crate::services::auth;

/// How many attempts the page lists, newest first.
const SHOWN: i64 = 200;

#[derive(Deserialize)]
pub struct AddressQuery {
    #[serde(default)]
    address: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/failed_sign_ins.page.html")]
pub struct FailedSignInsPage {
    pub nav: Nav,
    pub address: String,
    /// `None` until an address is asked for.
    pub attempts: Option<Vec<ActivityView>>,
}

pub async fn show(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Query(query): Query<AddressQuery>,
) -> AppResult<FailedSignInsPage> {
    let address = query.address.trim().to_owned();
    let attempts = if address.is_empty() {
        None
    } else {
        let rows = auth::failed_attempts_for(&state, &address, SHOWN).await?;
        Some(rows.into_iter().map(ActivityView::from).collect())
    };
    Ok(FailedSignInsPage {
        nav: Nav::of(&admin),
        address,
        attempts,
    })
}
