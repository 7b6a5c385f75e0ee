//! Display helpers shared by the page view models.

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
