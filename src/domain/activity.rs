//! The admin's activity view: how many days it covers, and logins counted per UTC hour.

/// How many days the activity page covers: 1 to [`ActivityDays::MAX`], 3 unless asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityDays(u32);

impl ActivityDays {
    pub const DEFAULT: Self = Self(3);
    pub const MAX: u32 = 14;

    /// `days` as typed (`?days=7`); `None` unless a whole number from 1 to 14.
    pub fn parse(days: &str) -> Option<Self> {
        days.trim()
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=Self::MAX).contains(d))
            .map(Self)
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// The hours covered at `now`: the current (partial) hour and the ones before it,
    /// `24 × days` in all, as (first hour, count); an hour is Unix time / 3600.
    pub fn hours(self, now: i64) -> (i64, i64) {
        let count = i64::from(self.0) * 24;
        (now.div_euclid(3600) - count + 1, count)
    }
}

/// Logins in one UTC hour (`hour` is Unix time / 3600), IMAP and web apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HourCount {
    pub hour: i64,
    pub imap_ok: i64,
    pub imap_failed: i64,
    pub web_ok: i64,
    pub web_failed: i64,
}

impl HourCount {
    pub fn successes(&self) -> i64 {
        self.imap_ok + self.web_ok
    }

    pub fn failures(&self) -> i64 {
        self.imap_failed + self.web_failed
    }

    pub fn is_empty(&self) -> bool {
        self.successes() == 0 && self.failures() == 0
    }
}

/// Every hour from `first` on, `count` of them, with the counts of the sparse `imap` and
/// `web` rows ((hour, successes, failures), hours without logins left out) filled in.
pub fn every_hour(
    first: i64,
    count: i64,
    imap: &[(i64, i64, i64)],
    web: &[(i64, i64, i64)],
) -> Vec<HourCount> {
    let mut hours: Vec<HourCount> = (first..first + count.max(0))
        .map(|hour| HourCount {
            hour,
            ..HourCount::default()
        })
        .collect();
    fill(&mut hours, first, imap, false);
    fill(&mut hours, first, web, true);
    hours
}

/// Adds each row to its hour; rows outside the window (a clock moved back) are dropped.
fn fill(hours: &mut [HourCount], first: i64, rows: &[(i64, i64, i64)], web: bool) {
    for &(hour, ok, failed) in rows {
        let Some(h) = usize::try_from(hour - first)
            .ok()
            .and_then(|i| hours.get_mut(i))
        else {
            continue;
        };
        if web {
            h.web_ok += ok;
            h.web_failed += failed;
        } else {
            h.imap_ok += ok;
            h.imap_failed += failed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_one_to_fourteen() {
        assert_eq!(ActivityDays::parse("1").map(ActivityDays::get), Some(1));
        assert_eq!(ActivityDays::parse("14").map(ActivityDays::get), Some(14));
        for wrong in ["0", "15", "-1", "three", "", "2.5"] {
            assert_eq!(ActivityDays::parse(wrong), None, "{wrong:?}");
        }
        assert_eq!(ActivityDays::DEFAULT.get(), 3);
    }

    #[test]
    fn the_window_ends_with_the_current_hour() {
        let now = 100 * 3600 + 1800;
        assert_eq!(ActivityDays::parse("1").unwrap().hours(now), (77, 24));
    }

    #[test]
    fn every_hour_is_there_and_rows_land_in_theirs() {
        let hours = every_hour(10, 4, &[(11, 2, 1), (99, 5, 5)], &[(11, 1, 0), (13, 0, 3)]);
        assert_eq!(hours.len(), 4);
        assert_eq!(hours[0].hour, 10);
        assert!(hours[0].is_empty());
        assert_eq!((hours[1].successes(), hours[1].failures()), (3, 1));
        assert_eq!((hours[3].web_failed, hours[3].imap_failed), (3, 0));
        let total: i64 = hours.iter().map(|h| h.successes() + h.failures()).sum();
        assert_eq!(total, 7, "the row outside the window is left out");
    }
}
