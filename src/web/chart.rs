//! The activity chart: successful and failed logins per UTC hour as an SVG drawn here, put
//! inline in the page (no script, no external file, nothing the CSP refuses: colours come
//! from classes in style.css, the rest are presentation attributes). It reads without
//! colour: failures are a dashed line with square marks, both lines are labelled at their
//! end, and `<title>`/`<desc>` say what it shows; the page's table has every number.

use std::fmt::Write;

use crate::domain::activity::HourCount;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 130.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;

/// The smallest of 1, 2, 5, 10, 20, 50… at or above `max` (at least 1).
fn nice_ceiling(max: i64) -> i64 {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if m * step >= max {
                return m * step;
            }
        }
        step *= 10;
    }
}

/// `text` with the five XML specials escaped.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// `2026-11-30 14:00 UTC` for an hour (Unix time / 3600).
pub fn hour_label(hour: i64) -> String {
    super::format::timestamp(hour * 3600)
}

/// `11-30` for the day an hour starts.
fn day_label(hour: i64) -> String {
    let full = hour_label(hour);
    full.get(5..10).unwrap_or_default().to_owned()
}

/// The busiest hour of a series, as words for the description.
fn peak(hours: &[HourCount], pick: fn(&HourCount) -> i64) -> String {
    match hours.iter().max_by_key(|h| (pick(h), -h.hour)) {
        Some(h) if pick(h) > 0 => format!(
            ", at most {} in the hour from {}",
            pick(h),
            hour_label(h.hour)
        ),
        _ => String::new(),
    }
}

/// The chart of `hours` (oldest first) covering `days` days, as an `<svg>` element.
pub fn logins_per_hour(hours: &[HourCount], days: u32) -> String {
    let successes: i64 = hours.iter().map(HourCount::successes).sum();
    let failures: i64 = hours.iter().map(HourCount::failures).sum();
    let top = nice_ceiling(
        hours
            .iter()
            .map(|h| h.successes().max(h.failures()))
            .max()
            .unwrap_or(0),
    );
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let span = (hours.len().max(2) - 1) as f64;
    let x = |i: usize| LEFT + plot_w * i as f64 / span;
    let y = |v: i64| TOP + plot_h - plot_h * v as f64 / top as f64;
    let title = format!(
        "Logins per hour, last {days} day{}, UTC",
        if days == 1 { "" } else { "s" }
    );
    let desc = format!(
        "Successful IMAP logins and web sign-ins: {successes} in all{}. Failed: {failures} in \
         all{}. The table below the chart lists every hour with logins.",
        peak(hours, HourCount::successes),
        peak(hours, HourCount::failures),
    );
    let mut svg = String::with_capacity(16 * 1024);
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title chart-desc"><title id="chart-title">{}</title><desc id="chart-desc">{}</desc>"#,
        escaped(&title),
        escaped(&desc)
    );
    // Horizontal grid with its values, at 0, half and the top.
    let mut ticks = vec![0, top];
    if top % 2 == 0 {
        ticks.insert(1, top / 2);
    }
    svg.push_str(r#"<g class="grid" aria-hidden="true">"#);
    for t in &ticks {
        let _ = write!(
            svg,
            r#"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="currentColor" stroke-opacity="0.25"/><text x="{:.1}" y="{:.1}" text-anchor="end">{t}</text>"#,
            LEFT + plot_w,
            LEFT - 6.0,
            y(*t) + 4.0,
            y = y(*t),
        );
    }
    // A mark and the date where each UTC day starts.
    for (i, h) in hours.iter().enumerate() {
        if h.hour.rem_euclid(24) == 0 {
            let _ = write!(
                svg,
                r#"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{:.1}" stroke="currentColor" stroke-opacity="0.25"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                TOP + plot_h + 6.0,
                TOP + plot_h + 20.0,
                escaped(&day_label(h.hour)),
                x = x(i),
            );
        }
    }
    let _ = write!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">hour (UTC)</text></g>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 4.0
    );
    let line = |pick: fn(&HourCount) -> i64| -> String {
        hours
            .iter()
            .enumerate()
            .map(|(i, h)| format!("{:.1},{:.1}", x(i), y(pick(h))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = write!(
        svg,
        r#"<polyline class="ok" points="{}" fill="none" stroke="currentColor" stroke-width="2"/>"#,
        line(HourCount::successes)
    );
    let _ = write!(
        svg,
        r#"<polyline class="failed" points="{}" fill="none" stroke="currentColor" stroke-width="2" stroke-dasharray="6 4"/>"#,
        line(HourCount::failures)
    );
    // Square marks on hours with failures: they show even where the dashes are short.
    svg.push_str(r#"<g class="failed-marks" aria-hidden="true">"#);
    for (i, h) in hours.iter().enumerate() {
        if h.failures() > 0 {
            let _ = write!(
                svg,
                r#"<rect x="{:.1}" y="{:.1}" width="5" height="5" fill="currentColor"/>"#,
                x(i) - 2.5,
                y(h.failures()) - 2.5
            );
        }
    }
    svg.push_str("</g>");
    // Direct labels at the end of each line, kept apart when the lines end close together.
    let last = hours.last().copied().unwrap_or_default();
    let (mut ok_y, mut failed_y) = (y(last.successes()), y(last.failures()));
    if (ok_y - failed_y).abs() < 14.0 {
        if ok_y <= failed_y {
            failed_y = ok_y + 14.0;
        } else {
            ok_y = failed_y + 14.0;
        }
    }
    let label_x = LEFT + plot_w + 6.0;
    let _ = write!(
        svg,
        r#"<text class="ok-label" x="{label_x:.1}" y="{:.1}">successful ({successes})</text><text class="failed-label" x="{label_x:.1}" y="{:.1}">failed, dashed ({failures})</text></svg>"#,
        ok_y + 4.0,
        failed_y + 4.0
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(n: i64) -> Vec<HourCount> {
        (0..n)
            .map(|i| HourCount {
                hour: 480_000 + i,
                imap_ok: i % 5,
                imap_failed: i64::from(i == 30) * 7,
                web_ok: 1,
                web_failed: 0,
            })
            .collect()
    }

    #[test]
    fn ceilings_are_round() {
        let got: Vec<i64> = [0, 1, 2, 3, 6, 11, 99, 101].map(nice_ceiling).to_vec();
        assert_eq!(got, [1, 1, 2, 5, 10, 20, 100, 200]);
    }

    #[test]
    fn the_chart_is_well_formed_svg_with_a_text_alternative() {
        let svg = logins_per_hour(&hours(72), 3);
        let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.attribute("role"), Some("img"));
        let text_of = |name: &str| {
            root.descendants()
                .find(|n| n.has_tag_name(name))
                .and_then(|n| n.text())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(text_of("title"), "Logins per hour, last 3 days, UTC");
        let desc = text_of("desc");
        // 72 web successes plus 0+1+2+3+4 repeated (14 full cycles and 0+1): 72 + 141.
        assert!(
            desc.contains("Successful IMAP logins and web sign-ins: 213 in all"),
            "{desc}"
        );
        assert!(
            desc.contains("Failed: 7 in all, at most 7 in the hour from"),
            "{desc}"
        );
        let lines: Vec<_> = root
            .descendants()
            .filter(|n| n.has_tag_name("polyline"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[1].attribute("stroke-dasharray"),
            Some("6 4"),
            "failures dashed"
        );
        let points = lines[0].attribute("points").unwrap_or_default();
        assert_eq!(points.split(' ').count(), 72, "a point per hour");
        assert!(svg.contains(">successful (213)<") && svg.contains(">failed, dashed (7)<"));
        assert!(!svg.contains("style="), "the CSP refuses inline styles");
    }

    #[test]
    fn an_empty_window_still_draws() {
        let empty: Vec<HourCount> = (0..24)
            .map(|i| HourCount {
                hour: 10 + i,
                ..HourCount::default()
            })
            .collect();
        let svg = logins_per_hour(&empty, 1);
        roxmltree::Document::parse(&svg).expect("well-formed XML");
        assert!(svg.contains("last 1 day, UTC"));
        assert!(svg.contains(": 0 in all."));
    }
}
