//! Who acts on an account: a person (in the browser, or through an API token) with their
//! standing and address, or the operator at the host's command line; and the audit entries
//! and revocation rows that name them.

use crate::domain::{Role, UserId};
use crate::error::{AppError, AppResult};
use crate::store::app_passwords::Revocation;
use crate::store::audit::{Entry, Event};
use crate::store::users::UserRow;

/// Who is acting, from where, with which standing.
pub struct Actor<'a> {
    pub user_id: UserId,
    pub role: Role,
    pub ip: &'a str,
    /// The name of the API token the person acts through; none in the browser. The audit
    /// log says so, so that an admin can tell a script's actions from a person's.
    pub via_token: Option<&'a str>,
}

impl<'a> Actor<'a> {
    /// The audit entry of this actor doing `event` to `subject`'s account, from their address.
    pub fn entry(&self, subject: UserId, event: Event, detail: impl Into<String>) -> Entry<'a> {
        Entry {
            subject: Some(subject),
            ..self.entry_about_none(event, detail)
        }
    }

    /// The audit entry of an action about no one account (a bulk action, an invitation).
    pub fn entry_about_none(&self, event: Event, detail: impl Into<String>) -> Entry<'a> {
        let mut detail = detail.into();
        if let Some(name) = self.via_token {
            if !detail.is_empty() {
                detail.push(' ');
            }
            detail.push_str(&format!("(through API token “{name}”)"));
        }
        Entry {
            actor: Some(self.user_id),
            subject: None,
            event,
            detail,
            ip: Some(self.ip),
        }
    }
}

/// Who performs an action on an account: a person signed in to the web (or the API), or
/// the operator at the host's command line, who has no account of their own: the audit
/// log and the revocation rows then name no actor.
#[derive(Clone, Copy)]
pub enum By<'a> {
    Person(&'a Actor<'a>),
    CommandLine,
}

impl<'a> By<'a> {
    pub fn user_id(self) -> Option<UserId> {
        match self {
            Self::Person(actor) => Some(actor.user_id),
            Self::CommandLine => None,
        }
    }

    /// The revocation row of this actor revoking `owner`'s app passwords.
    pub fn revocation<'r>(self, owner: &UserRow, reason: &'r str, now: i64) -> Revocation<'r> {
        Revocation {
            user_id: owner.id,
            by: self.user_id(),
            reason,
            now,
        }
    }

    /// Where the actor acted from (none at the command line).
    pub fn ip(self) -> Option<&'a str> {
        match self {
            Self::Person(actor) => Some(actor.ip),
            Self::CommandLine => None,
        }
    }

    /// The actor's standing; the operator at the command line stands above everyone.
    pub fn role(self) -> Role {
        match self {
            Self::Person(actor) => actor.role,
            Self::CommandLine => Role::Superadmin,
        }
    }

    /// Refuses an action on `owner`'s account unless it is the actor's own or the actor
    /// stands above it (`Role::may_act_on`).
    pub fn ensure_may_act_on(self, owner: &UserRow) -> AppResult<()> {
        if self.user_id() == Some(owner.id) || self.role().may_act_on(owner.role()) {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "Only a superadmin can do this to an admin's account.",
            ))
        }
    }

    /// The audit entry of an action about no one account (a bulk action, an invitation).
    pub fn entry_about_none(self, event: Event, detail: impl Into<String>) -> Entry<'a> {
        match self {
            Self::Person(actor) => actor.entry_about_none(event, detail),
            Self::CommandLine => Entry {
                actor: None,
                subject: None,
                event,
                detail: detail.into(),
                ip: None,
            },
        }
    }

    /// The audit entry of this actor doing `event` to `subject`'s account.
    pub fn entry(self, subject: UserId, event: Event, detail: impl Into<String>) -> Entry<'a> {
        match self {
            Self::Person(actor) => actor.entry(subject, event, detail),
            Self::CommandLine => Entry {
                actor: None,
                subject: Some(subject),
                event,
                detail: detail.into(),
                ip: None,
            },
        }
    }
}

impl<'a> From<&'a Actor<'a>> for By<'a> {
    fn from(actor: &'a Actor<'a>) -> Self {
        Self::Person(actor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_through_an_api_token_names_it_in_the_audit_detail() {
        let mut actor = Actor {
            user_id: UserId(1),
            role: Role::Admin,
            ip: "192.0.2.1",
            via_token: None,
        };
        let browser = actor.entry(UserId(2), Event::AllAppPasswordsRevoked, "2 app passwords");
        assert_eq!(browser.detail, "2 app passwords");
        actor.via_token = Some("Ticketing");
        let api = actor.entry(UserId(2), Event::AllAppPasswordsRevoked, "2 app passwords");
        assert_eq!(
            api.detail,
            "2 app passwords (through API token “Ticketing”)"
        );
        assert_eq!((api.actor, api.subject), (Some(UserId(1)), Some(UserId(2))));
        let bare = actor.entry_about_none(Event::BulkRevocation, "");
        assert_eq!(bare.detail, "(through API token “Ticketing”)");
        assert_eq!(bare.subject, None);
    }
}
