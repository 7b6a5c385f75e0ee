//! Destructive admin actions (revoke every app password, end every session, disable an
//! account, require a new password) are confirmed on a page of their own first, which says
//! what will happen; and when the admin signed in more than a few minutes ago, the action
//! itself (not just the page) wants the admin's password again (`recheck`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use secrecy::SecretString;

use super::session::{AdminUser, CurrentSession};
use super::{AppState, Nav};
use crate::domain::UserId;
use crate::error::{AppError, AppResult};
use crate::services::admin::{self, Recheck};
use crate::store::users::{self, UserRow};

/// The actions confirmed on this page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confirmed {
    RevokeAll,
    EndSessions,
    Disable,
    RequireReset,
}

impl Confirmed {
    pub fn title(self) -> &'static str {
        match self {
            Self::RevokeAll => "Revoke every app password",
            Self::EndSessions => "End every session",
            Self::Disable => "Disable the account",
            Self::RequireReset => "Require a new main password",
        }
    }

    pub fn explanation(self) -> &'static str {
        match self {
            Self::RevokeAll => "Every app password of this account stops working at its next IMAP login; open IMAP connections are closed where Dovecot's doveadm API is configured.",
            Self::EndSessions => "Every browser session of this account is signed out, and its open IMAP connections are closed where Dovecot's doveadm API is configured.",
            Self::Disable => "The account can no longer sign in, and neither its app passwords nor its main password work for IMAP; its sessions end.",
            Self::RequireReset => "The account's browser sessions end; its owner must choose a new main password after signing in, and can create no app password until then.",
        }
    }

    /// Where the confirmation form posts, and its fixed fields.
    pub fn target(self, id: UserId) -> (String, &'static [(&'static str, &'static str)]) {
        let base = format!("/admin/users/{id}");
        match self {
            Self::RevokeAll => (format!("{base}/revoke-all"), &[]),
            Self::EndSessions => (format!("{base}/end-sessions"), &[]),
            Self::Disable => (
                format!("{base}/flags"),
                &[("flag", "disabled"), ("on", "yes")],
            ),
            Self::RequireReset => (
                format!("{base}/flags"),
                &[("flag", "must_reset"), ("on", "yes")],
            ),
        }
    }

    pub fn asks_reason(self) -> bool {
        self == Self::RevokeAll
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/confirm.page.html")]
pub struct ConfirmPage {
    pub nav: Nav,
    pub user: UserRow,
    pub action: Confirmed,
    pub target: String,
    pub fields: &'static [(&'static str, &'static str)],
    pub ask_password: bool,
    /// The admin must give the second factor again first (`admin::factor_given_recently`).
    pub ask_factor: bool,
}

pub async fn page(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path((id, action)): Path<(UserId, Confirmed)>,
) -> AppResult<ConfirmPage> {
    let user = users::find_by_id(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let (target, fields) = action.target(id);
    Ok(ConfirmPage {
        nav: Nav::of(&admin),
        user,
        action,
        target,
        fields,
        ask_password: !admin::signed_in_recently(&state, admin.session.created_at),
        ask_factor: !admin::factor_given_recently(&state, &admin.session),
    })
}

/// Lets a destructive action through when the admin signed in recently, or typed their
/// password right (counted like a sign-in attempt); refuses it otherwise, changing nothing.
pub async fn recheck(
    state: &AppState,
    admin: &CurrentSession,
    password: Option<SecretString>,
    ip: &str,
) -> AppResult<()> {
    if !admin::factor_given_recently(state, &admin.session) {
        return Err(AppError::Forbidden(admin::FACTOR_AGAIN));
    }
    if admin::signed_in_recently(state, admin.session.created_at) {
        return Ok(());
    }
    let Some(password) = password else {
        return Err(AppError::Forbidden(
            "You signed in more than 5 minutes ago: confirm this action with your own password on its confirmation page. Nothing was changed.",
        ));
    };
    match admin::recheck_password(state, &admin.user, password, ip).await? {
        Ok(()) => Ok(()),
        Err(Recheck::Wrong) => Err(AppError::Forbidden(
            "That is not your password. Nothing was changed.",
        )),
        Err(Recheck::Locked { .. }) => Err(AppError::TooManyRequests),
    }
}
