//! Post/redirect/get notices: a finished action redirects to its page with
//! `?done=<action>&sessions=<what Dovecot did>`, and the page says so. Each page has its own
//! enum of actions; unknown or missing values show nothing (a hand-edited URL is no error).

use axum::response::Redirect;
use serde::de::{DeserializeOwned, IntoDeserializer};
use serde::{Deserialize, Deserializer, Serialize};

use super::routes::Page;
use crate::dovecot::doveadm::SessionSync;

/// A page's finished actions: each has its notice.
pub trait Finished: Serialize + DeserializeOwned + Copy {
    fn message(self) -> &'static str;

    /// Whether the action concerns open mail connections, so the notice says what
    /// happened to them; a rename, say, does not.
    fn touches_sessions(self) -> bool {
        true
    }
}

/// The query a page reads.
#[derive(Deserialize)]
#[serde(bound = "T: Finished")]
pub struct Done<T: Finished> {
    #[serde(default, deserialize_with = "lenient")]
    done: Option<T>,
    #[serde(default, deserialize_with = "lenient")]
    sessions: Option<SessionSync>,
}

impl<T: Finished> Done<T> {
    /// The notice for the finished action, followed by what happened to open mail
    /// connections.
    pub fn notice(&self) -> Option<String> {
        let done = self.done?;
        if !done.touches_sessions() {
            return Some(done.message().to_owned());
        }
        Some(format!(
            "{} {}",
            done.message(),
            sessions_notice(self.sessions)
        ))
    }
}

/// The redirect to `page` after `done`, saying what Dovecot did.
pub fn redirect_after<T: Finished>(page: Page, done: T, sessions: SessionSync) -> Redirect {
    #[derive(Serialize)]
    struct Query<T> {
        done: T,
        sessions: SessionSync,
    }
    match serde_urlencoded::to_string(Query { done, sessions }) {
        Ok(query) => Redirect::to(&format!("{}?{query}", page.path())),
        // Cannot happen for unit enums; the page without its notice is still right.
        Err(_) => page.redirect(),
    }
}

/// The redirect to `page` after `done`, an action that leaves mail connections alone.
pub fn redirect_done<T: Finished>(page: Page, done: T) -> Redirect {
    #[derive(Serialize)]
    struct Query<T> {
        done: T,
    }
    match serde_urlencoded::to_string(Query { done }) {
        Ok(query) => Redirect::to(&format!("{}?{query}", page.path())),
        Err(_) => page.redirect(),
    }
}

/// An unknown value reads as none.
fn lenient<'de, D: Deserializer<'de>, T: DeserializeOwned>(de: D) -> Result<Option<T>, D::Error> {
    let Some(text) = Option::<String>::deserialize(de)? else {
        return Ok(None);
    };
    let parsed: Result<T, serde::de::value::Error> = T::deserialize(text.into_deserializer());
    Ok(parsed.ok())
}

/// What the user is told about live IMAP sessions after a revocation or rotation.
pub fn sessions_notice(sessions: Option<SessionSync>) -> &'static str {
    match sessions {
        Some(SessionSync::Ended) => "Open mail connections of this account were closed; your other devices reconnect by themselves.",
        Some(SessionSync::Failed) => "Mailkeys could not reach the mail server to close open connections: a device connected right now stays connected until it reconnects.",
        _ => "A device connected right now stays connected until it reconnects (Mailkeys is not set up to close open mail connections).",
    }
}

/// Finished actions on the dashboard (`/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DashboardDone {
    Revoked,
    RevokedAll,
    Limits,
    Renamed,
}

impl Finished for DashboardDone {
    fn message(self) -> &'static str {
        match self {
            Self::Revoked => "The app password was revoked: it can no longer sign in.",
            Self::RevokedAll => {
                "All app passwords were revoked: none of them can sign in any more."
            }
            Self::Limits => "The limits of the app password were saved.",
            Self::Renamed => {
                "The app password was renamed. It works as before: nothing changes on your devices."
            }
        }
    }

    fn touches_sessions(self) -> bool {
        !matches!(self, Self::Renamed)
    }
}

/// Finished actions on the account page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccountDone {
    Password,
    PasswordAndRevoked,
    Imap,
}

impl Finished for AccountDone {
    fn message(self) -> &'static str {
        match self {
            Self::Password => "Your password was changed and every other browser session was signed out.",
            Self::PasswordAndRevoked => "Your password was changed, every other browser session was signed out and all app passwords were revoked.",
            Self::Imap => "Your IMAP setting was saved.",
        }
    }
}

/// Finished actions on an admin's account page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdminDone {
    Revoked,
    RevokedAll,
    SignedOut,
    Disabled,
    Enabled,
    ResetRequired,
    ResetCleared,
    MainImapBlocked,
    MainImapUnblocked,
    RoleChanged,
    FactorsReset,
}

impl Finished for AdminDone {
    fn message(self) -> &'static str {
        match self {
            Self::Revoked => "The app password was revoked.",
            Self::RevokedAll => "All app passwords of this account were revoked.",
            Self::SignedOut => "Every browser session of this account was ended.",
            Self::Disabled => "The account was disabled: it can no longer sign in or use IMAP, and its browser sessions were ended.",
            Self::Enabled => "The account was enabled again.",
            Self::ResetRequired => "The account must choose a new main password: its browser sessions were ended, and it can create no app password until then.",
            Self::ResetCleared => "The account no longer has to choose a new main password.",
            Self::MainImapBlocked => "The account's main password is now refused for IMAP.",
            Self::MainImapUnblocked => "The account's owner decides again whether the main password works for IMAP.",
            Self::RoleChanged => "The account's role was changed.",
            Self::FactorsReset => "Every second factor of this account was removed: it signs in with its password alone until it sets up a new one.",
        }
    }

    fn touches_sessions(self) -> bool {
        !matches!(
            self,
            Self::Enabled
                | Self::ResetCleared
                | Self::MainImapUnblocked
                | Self::RoleChanged
                | Self::FactorsReset
        )
    }
}

impl AdminDone {
    /// The notice of switching an account flag.
    pub fn of_flag(flag: crate::store::users::AdminFlag, on: bool) -> Self {
        use crate::store::users::AdminFlag;
        match (flag, on) {
            (AdminFlag::Disabled, true) => Self::Disabled,
            (AdminFlag::Disabled, false) => Self::Enabled,
            (AdminFlag::MustReset, true) => Self::ResetRequired,
            (AdminFlag::MustReset, false) => Self::ResetCleared,
            (AdminFlag::MainImapBlocked, true) => Self::MainImapBlocked,
            (AdminFlag::MainImapBlocked, false) => Self::MainImapUnblocked,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: Finished>(query: &str) -> Done<T> {
        serde_urlencoded::from_str(query).unwrap()
    }

    #[test]
    fn known_values_give_their_notice_and_unknown_ones_nothing() {
        let done: Done<DashboardDone> = parse("done=revoked-all&sessions=ended");
        let notice = done.notice().unwrap();
        assert!(
            notice.starts_with("All app passwords were revoked"),
            "{notice}"
        );
        assert!(notice.contains("were closed"), "{notice}");
        assert!(parse::<DashboardDone>("done=nonsense&sessions=ended")
            .notice()
            .is_none());
        assert!(parse::<AccountDone>("").notice().is_none());
        let odd_sessions: Done<AccountDone> = parse("done=imap&sessions=whatever");
        assert!(odd_sessions
            .notice()
            .unwrap()
            .contains("not set up to close"));
    }

    #[test]
    fn redirects_carry_what_the_page_reads() {
        let redirect = redirect_after(
            Page::Account,
            AccountDone::PasswordAndRevoked,
            SessionSync::Failed,
        );
        let location = axum::response::IntoResponse::into_response(redirect).headers()["location"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            location,
            "/account?done=password-and-revoked&sessions=failed"
        );
        let query = location.split_once('?').unwrap().1;
        assert_eq!(
            parse::<AccountDone>(query).done,
            Some(AccountDone::PasswordAndRevoked)
        );
    }
}
