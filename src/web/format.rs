//! Display helpers shared by the page view models.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::OffsetDateTime;

/// `2026-11-26 14:05 UTC`, or an empty string for an out-of-range value.
pub fn timestamp(unix: i64) -> String {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

pub fn optional_timestamp(unix: Option<i64>, none: &str) -> String {
    unix.map_or_else(|| none.to_owned(), timestamp)
}

/// A moment as a page shows it: `<time datetime="{iso}" title="{exact}">{relative}</time>`.
/// The server only knows UTC; static/app.js rewrites the exact time into the browser's own
/// zone, and without JavaScript the UTC text stays.
pub struct Moment {
    /// RFC 3339, for the `datetime` attribute.
    pub iso: String,
    /// `2026-11-26 14:05 UTC`.
    pub exact: String,
    /// `3 hours ago`, `in 2 days`, `just now`.
    pub relative: String,
}

impl Moment {
    pub fn of(unix: i64, now: i64) -> Self {
        Self {
            iso: OffsetDateTime::from_unix_timestamp(unix)
                .ok()
                .and_then(|t| t.format(&Rfc3339).ok())
                .unwrap_or_default(),
            exact: timestamp(unix),
            relative: relative(unix, now),
        }
    }

    /// A moment shown by its exact time only (a log line), so no "now" is needed.
    pub fn at(unix: i64) -> Self {
        let mut moment = Self::of(unix, unix);
        moment.relative = moment.exact.clone();
        moment
    }
}

/// How far `unix` is from `now` in the largest whole unit, in words: "3 hours ago",
/// "in 1 day", "just now" (under a minute either way).
pub fn relative(unix: i64, now: i64) -> String {
    const UNITS: [(i64, &str); 6] = [
        (365 * 86_400, "year"),
        (30 * 86_400, "month"),
        (7 * 86_400, "week"),
        (86_400, "day"),
        (3_600, "hour"),
        (60, "minute"),
    ];
    let distance = now.saturating_sub(unix);
    let Some((count, unit)) = UNITS
        .iter()
        .map(|&(seconds, unit)| (distance.unsigned_abs() / seconds.unsigned_abs(), unit))
        .find(|&(count, _)| count >= 1)
    else {
        return "just now".to_owned();
    };
    let plural = if count == 1 { "" } else { "s" };
    if distance > 0 {
        format!("{count} {unit}{plural} ago")
    } else {
        format!("in {count} {unit}{plural}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_as_words() {
        let now = 1_800_000_000;
        assert_eq!(relative(now - 20, now), "just now");
        assert_eq!(relative(now - 60, now), "1 minute ago");
        assert_eq!(relative(now - 3 * 3_600 - 5, now), "3 hours ago");
        assert_eq!(relative(now - 2 * 86_400, now), "2 days ago");
        assert_eq!(relative(now + 30 * 86_400, now), "in 1 month");
        assert_eq!(relative(now + 86_400, now), "in 1 day");
        assert_eq!(relative(now - 400 * 86_400, now), "1 year ago");
        let moment = Moment::of(0, 0);
        assert_eq!(moment.iso, "1970-01-01T00:00:00Z");
        assert_eq!(moment.exact, "1970-01-01 00:00 UTC");
    }
}
