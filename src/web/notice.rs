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

    /// Whether the notice goes on to say what happened to open mail connections.
    fn touches_mail_sessions(self) -> bool {
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
        if !done.touches_mail_sessions() {
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
}

impl Finished for DashboardDone {
    fn message(self) -> &'static str {
        match self {
            Self::Revoked => "The app password was revoked: it can no longer sign in.",
            Self::RevokedAll => {
                "All app passwords were revoked: none of them can sign in any more."
            }
            Self::Limits => "The limits of the app password were saved.",
        }
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
    Saved,
    FactorsReset,
}

impl Finished for AdminDone {
    fn message(self) -> &'static str {
        match self {
            Self::Revoked => "The app password was revoked.",
            Self::RevokedAll => "All app passwords of this account were revoked.",
            Self::SignedOut => "Every browser session of this account was ended.",
            Self::Saved => "Saved.",
            Self::FactorsReset => {
                "Every second factor of this account was removed: it signs in with its password alone until it sets up a new one."
            }
        }
    }

    fn touches_mail_sessions(self) -> bool {
        self != Self::FactorsReset
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
