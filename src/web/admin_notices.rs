//! Admin → notices: the queue of notices by mail (`services::notices`), with each one's
//! state, tries, next try and the relay's last answer (which never holds a secret).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;

use super::format::timestamp;
use super::session::AdminUser;
use super::{AppState, Nav};
use crate::error::AppResult;
use crate::services::notices;

/// How many notices the page lists, newest first.
const SHOWN: i64 = 200;

pub struct NoticeView {
    pub id: i64,
    pub recipient: String,
    pub kind: String,
    pub status: String,
    pub attempts: i64,
    pub created: String,
    /// When it was sent, or when it is tried next (pending), or nothing (failed).
    pub when: String,
    pub last_error: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/notices.page.html")]
pub struct NoticesPage {
    pub nav: Nav,
    /// A relay is configured (otherwise nothing is queued).
    pub enabled: bool,
    pub counts: Vec<(String, i64)>,
    pub notices: Vec<NoticeView>,
}

pub async fn show(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
) -> AppResult<NoticesPage> {
    let (counts, rows) = notices::queue(&state, SHOWN).await?;
    let notices = rows
        .into_iter()
        .map(|row| NoticeView {
            when: match (row.status.as_str(), row.sent_at) {
                ("sent", Some(at)) => format!("sent {}", timestamp(at)),
                ("pending", _) => format!("next try {}", timestamp(row.next_attempt_at)),
                _ => String::new(),
            },
            id: row.id,
            recipient: row.recipient,
            kind: row.kind.replace('_', " "),
            status: row.status,
            attempts: row.attempts,
            created: timestamp(row.created_at),
            last_error: row.last_error.unwrap_or_default(),
        })
        .collect();
    Ok(NoticesPage {
        nav: Nav::of(&admin),
        enabled: notices::enabled(&state),
        counts,
        notices,
    })
}
