//! Who logged in, and who failed: an account's recent IMAP logins and web sign-ins, the
//! logins per hour across all accounts with the addresses failing most, and the pruning of
//! the login history to [`LOGIN_HISTORY_DAYS`].

use super::Services;
use crate::domain::activity::{every_hour, ActivityDays, HourCount};
use crate::domain::UserId;
use crate::error::AppResult;
use crate::store::login_history::{self, FailingAddress, HourRow};

/// How long the IMAP login history is kept (the daily maintenance deletes older logins).
pub const LOGIN_HISTORY_DAYS: i64 = 30;

/// How many addresses the activity page lists by failures.
pub const TOP_FAILING: i64 = 10;

/// Logins per UTC hour over the chosen days, and the addresses failing most in them.
#[derive(Debug, Clone)]
pub struct Activity {
    pub days: ActivityDays,
    /// Every hour of the window, oldest first, the current (partial) one last.
    pub hours: Vec<HourCount>,
    pub top_failing: Vec<FailingAddress>,
}

impl Activity {
    pub fn total(&self, pick: impl Fn(&HourCount) -> i64) -> i64 {
        self.hours.iter().map(pick).sum()
    }
}

pub async fn overview(state: &Services, days: ActivityDays) -> AppResult<Activity> {
    let (first, count) = days.hours(state.now());
    let since = first * 3600;
    let triples = |rows: Vec<HourRow>| -> Vec<(i64, i64, i64)> {
        rows.into_iter()
            .map(|r| (r.hour, r.successes, r.failures))
            .collect()
    };
    let imap = triples(login_history::imap_per_hour(&state.db, since).await?);
    let web = triples(login_history::web_per_hour(&state.db, since).await?);
    Ok(Activity {
        days,
        hours: every_hour(first, count, &imap, &web),
        top_failing: login_history::top_failing(&state.db, since, TOP_FAILING).await?,
    })
}

/// How a login was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A web sign-in (password, and second factor where the account has one).
    Web,
    /// An IMAP (or other Dovecot) login with this app password.
    AppPassword(String),
    /// A successful IMAP login without an app password: the main password.
    MainPassword,
    /// A failed IMAP login: Dovecot does not say which password was tried.
    Unknown,
}

/// One login or sign-in of an account.
#[derive(Debug, Clone)]
pub struct RecentLogin {
    pub at: i64,
    pub succeeded: bool,
    pub ip: String,
    /// `web`, or the protocol Dovecot reported (`imap`, `pop3`, `submission`…).
    pub protocol: String,
    pub via: Via,
}

/// The account's `limit` newest IMAP logins and web sign-ins together, newest first.
pub async fn recent_logins(
    state: &Services,
    user: UserId,
    limit: i64,
) -> AppResult<Vec<RecentLogin>> {
    let imap = login_history::recent_imap(&state.db, user, limit).await?;
    let web = login_history::recent_web(&state.db, user, limit).await?;
    let mut all: Vec<RecentLogin> = imap
        .into_iter()
        .map(|row| {
            let succeeded = bool::from(row.succeeded);
            let via = match (row.credential_id, row.credential_name, succeeded) {
                (Some(_), Some(name), _) => Via::AppPassword(name),
                (None, _, true) => Via::MainPassword,
                _ => Via::Unknown,
            };
            RecentLogin {
                at: row.at,
                succeeded,
                ip: row.ip,
                protocol: row.protocol,
                via,
            }
        })
        .chain(web.into_iter().map(|row| RecentLogin {
            at: row.at,
            succeeded: bool::from(row.succeeded),
            ip: row.ip.unwrap_or_default(),
            protocol: "web".to_owned(),
            via: Via::Web,
        }))
        .collect();
    // Stable: within one second, the IMAP rows (already newest first) stay in order.
    all.sort_by_key(|login| std::cmp::Reverse(login.at));
    all.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(all)
}

/// Deletes the IMAP logins older than [`LOGIN_HISTORY_DAYS`]; returns how many.
pub async fn prune_history(state: &Services) -> AppResult<u64> {
    let cutoff = state.now() - LOGIN_HISTORY_DAYS * 86_400;
    Ok(login_history::prune(&state.db, cutoff).await?)
}
