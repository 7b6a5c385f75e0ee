//! The audit filter as people type it (addresses, an event name, dates, an IP address),
//! turned into the typed [`AuditFilter`] the store runs, for the admin page, the API and
//! `mailkeys audit export` alike.

use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use super::Services;
use crate::domain::Username;
use crate::error::AppResult;
use crate::store::audit::Event;
use crate::store::audit_search::AuditFilter;
use crate::store::users;

/// The filter's fields as typed; empty means "any".
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FilterInput {
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub actor: Option<String>,
    #[serde(default)]
    pub event: Option<String>,
    /// A day (`2026-11-30`, from its start, UTC) or an RFC 3339 time.
    #[serde(default)]
    pub since: Option<String>,
    /// A day (up to its end, UTC) or an RFC 3339 time (before it).
    #[serde(default)]
    pub until: Option<String>,
    #[serde(default)]
    pub ip: Option<String>,
}

fn given(field: &Option<String>) -> Option<&str> {
    field.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Which end of a day a bare date stands for.
enum DayEnd {
    Start,
    End,
}

/// A bare day or an RFC 3339 time, as a Unix time.
fn parse_time(text: &str, end: DayEnd) -> Result<i64, String> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    let day = Date::parse(text, format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("{text:?} is not a date (2026-11-30) or an RFC 3339 time"))?;
    let start = day.midnight().assume_utc().unix_timestamp();
    Ok(match end {
        DayEnd::Start => start,
        DayEnd::End => start + 86_400,
    })
}

async fn account_id(
    state: &Services,
    text: &str,
    what: &str,
) -> AppResult<Result<crate::domain::UserId, String>> {
    let Ok(email) = Username::parse(text) else {
        return Ok(Err(format!("{what}: {text:?} is not an email address")));
    };
    Ok(users::find_with_hash(&state.db, email.as_str())
        .await?
        .map(|(user, _)| user.id)
        .ok_or_else(|| format!("{what}: there is no account {email}")))
}

/// The typed filter, or what is wrong with the input (for the person to correct).
pub async fn resolve(
    state: &Services,
    input: &FilterInput,
) -> AppResult<Result<AuditFilter, String>> {
    let mut filter = AuditFilter::default();
    if let Some(text) = given(&input.account) {
        match account_id(state, text, "Account").await? {
            Ok(id) => filter.subject = Some(id),
            Err(why) => return Ok(Err(why)),
        }
    }
    if let Some(text) = given(&input.actor) {
        match account_id(state, text, "Done by").await? {
            Ok(id) => filter.actor = Some(id),
            Err(why) => return Ok(Err(why)),
        }
    }
    if let Some(text) = given(&input.event) {
        match Event::parse(text) {
            Some(event) => filter.event = Some(event.as_str()),
            None => return Ok(Err(format!("Event: {text:?} is not an event name"))),
        }
    }
    for (field, end, slot) in [
        (&input.since, DayEnd::Start, &mut filter.since),
        (&input.until, DayEnd::End, &mut filter.until),
    ] {
        if let Some(text) = given(field) {
            match parse_time(text, end) {
                Ok(t) => *slot = Some(t),
                Err(why) => return Ok(Err(why)),
            }
        }
    }
    if let Some(text) = given(&input.ip) {
        match text.parse::<std::net::IpAddr>() {
            Ok(ip) => filter.ip = Some(ip.to_string()),
            Err(_) => return Ok(Err(format!("Address: {text:?} is not an IP address"))),
        }
    }
    Ok(Ok(filter))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_times_parse_to_the_right_ends() {
        let start = parse_time("2026-11-30", DayEnd::Start).unwrap();
        assert_eq!(start, 1_795_996_800);
        assert_eq!(
            parse_time("2026-11-30", DayEnd::End).unwrap(),
            start + 86_400
        );
        assert_eq!(
            parse_time("2026-11-30T01:00:00Z", DayEnd::End).unwrap(),
            start + 3600
        );
        assert!(parse_time("yesterday", DayEnd::Start).is_err());
    }
}
