//! An account's activity as people read it: one plain sentence per audit entry ("App
//! password revoked: “Phone” (starts with abc234), reason: lost it."), with its time.

use super::format::Moment;
use super::AppState;
use crate::domain::UserId;
use crate::error::AppResult;
use crate::store::audit::{self, AuditRow};

pub struct ActivityView {
    pub at: Moment,
    pub sentence: String,
    pub ip: String,
}

/// What happened, in words, for each event name of the audit log (`store::audit::Event`).
fn what_happened(event: &str) -> String {
    let said = match event {
        "sign_in" => "Signed in",
        "sign_in_failed" => "A sign-in failed",
        "sign_out" => "Signed out",
        "setup_completed" => "Mailkeys was set up",
        "user_created" => "Account created",
        "app_password_created" => "App password created",
        "app_password_revoked" => "App password revoked",
        "app_password_limits_changed" => "Limits of an app password changed",
        "app_password_renamed" => "App password renamed",
        "all_app_passwords_revoked" => "All app passwords revoked",
        "password_changed" => "Password changed",
        "password_change_failed" => "A password change failed",
        "main_password_imap_setting" => "Setting for the main password in mail apps changed",
        "account_disabled" => "Account disabled by an administrator",
        "account_enabled" => "Account enabled by an administrator",
        "password_reset_required" => "An administrator asked for a new password",
        "password_reset_cleared" => "An administrator dropped the request for a new password",
        "main_password_imap_blocked_by_admin" => {
            "An administrator refused the main password in mail apps"
        }
        "main_password_imap_unblocked_by_admin" => {
            "An administrator let the account decide on the main password in mail apps"
        }
        "sessions_ended" => "Browser sessions ended",
        "connection_test" => "Connection test",
        "dovecot_self_check" => "Dovecot self-check",
        // An event this version does not know (a newer one wrote it): its name in words.
        other => return capitalised(&other.replace('_', " ")),
    };
    said.to_owned()
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

impl From<AuditRow> for ActivityView {
    fn from(row: AuditRow) -> Self {
        let what = what_happened(&row.event);
        let detail = row.detail.trim();
        let sentence = if detail.is_empty() {
            format!("{what}.")
        } else if detail.ends_with('.') {
            format!("{what}: {detail}")
        } else {
            format!("{what}: {detail}.")
        };
        Self {
            at: Moment::at(row.at),
            sentence,
            ip: row.ip.unwrap_or_default(),
        }
    }
}

impl ActivityView {
    /// The `limit` newest events about the user, newest first.
    pub async fn recent(state: &AppState, user_id: UserId, limit: i64) -> AppResult<Vec<Self>> {
        Ok(audit::recent_for_user(&state.db, user_id, limit)
            .await?
            .into_iter()
            .map(Self::from)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentence(event: &str, detail: &str) -> String {
        ActivityView::from(AuditRow {
            at: 0,
            event: event.into(),
            detail: detail.into(),
            ip: None,
        })
        .sentence
    }

    #[test]
    fn entries_read_as_sentences() {
        assert_eq!(sentence("sign_in", ""), "Signed in.");
        assert_eq!(
            sentence(
                "app_password_revoked",
                "“Phone” (starts with abc234), reason: 👨‍💻"
            ),
            "App password revoked: “Phone” (starts with abc234), reason: 👨‍💻."
        );
        assert_eq!(sentence("some_new_event", ""), "Some new event.");
    }
}
