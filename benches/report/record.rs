//! The report itself: the Markdown text and the JSON document, written from the same
//! records. A figure is a list of per-repetition values; both files give its median and
//! range (min–max) and, where the issue sets one, the target and whether it is met.

use std::fmt::Write as _;

use serde_json::{json, Value};

/// A target of the issue, beside a figure: "≤ 2 × idle", met or not.
pub struct Target {
    pub text: String,
    pub met: bool,
}

impl Target {
    pub fn at_most(limit: f64, text: &str, median: f64) -> Option<Target> {
        Some(Target {
            text: text.to_owned(),
            met: median <= limit,
        })
    }

    pub fn at_least(limit: f64, text: &str, median: f64) -> Option<Target> {
        Some(Target {
            text: text.to_owned(),
            met: median >= limit,
        })
    }
}

pub struct Report {
    md: String,
    figures: Vec<Value>,
    notes: Vec<Value>,
    section: String,
    table_open: bool,
}

/// Median, min and max of `values` (not empty).
pub fn summary(values: &[f64]) -> (f64, f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    (median, sorted[0], sorted[n - 1])
}

pub fn median(values: &[f64]) -> f64 {
    summary(values).0
}

fn fmt_value(v: f64, unit: &str) -> String {
    let digits = if v.abs() >= 100.0 {
        0
    } else if v.abs() >= 10.0 {
        1
    } else {
        2
    };
    match unit {
        "" | "×" => format!("{v:.digits$}"),
        _ => format!("{v:.digits$} {unit}"),
    }
}

impl Report {
    pub fn new(header: &str) -> Self {
        Report {
            md: format!("{header}\n"),
            figures: Vec::new(),
            notes: Vec::new(),
            section: String::new(),
            table_open: false,
        }
    }

    /// Starts a section: a heading and what it measures, how.
    pub fn section(&mut self, title: &str, intro: &str) {
        self.section = title.to_owned();
        self.table_open = false;
        let _ = writeln!(self.md, "\n## {title}\n\n{intro}\n");
    }

    /// A figure row: `values` are the repetitions (one value each).
    pub fn figure(&mut self, name: &str, unit: &str, values: &[f64], target: Option<Target>) {
        if values.is_empty() {
            return self.note(&format!("{name}: no value measured"));
        }
        if !self.table_open {
            self.md
                .push_str("| figure | median (min–max) | reps | target |\n|---|---|---|---|\n");
            self.table_open = true;
        }
        let (median, min, max) = summary(values);
        let target_md = target.as_ref().map_or(String::new(), |t| {
            format!("{}: **{}**", t.text, if t.met { "met" } else { "not met" })
        });
        let _ = writeln!(
            self.md,
            "| {name} | {} ({}–{}) | {} | {target_md} |",
            fmt_value(median, unit),
            fmt_value(min, ""),
            fmt_value(max, ""),
            values.len()
        );
        self.figures.push(json!({
            "section": self.section,
            "name": name,
            "unit": unit,
            "median": median,
            "min": min,
            "max": max,
            "values": values,
            "target": target.as_ref().map(|t| json!({"text": t.text, "met": t.met})),
        }));
    }

    /// A line of text under the current table (statuses, plans, caveats).
    pub fn note(&mut self, text: &str) {
        self.table_open = false;
        let _ = writeln!(self.md, "\n{text}\n");
        self.notes
            .push(json!({"section": self.section, "text": text}));
    }

    /// A preformatted block (a query plan).
    pub fn block(&mut self, title: &str, text: &str) {
        self.table_open = false;
        let _ = writeln!(self.md, "\n{title}:\n\n```\n{}\n```\n", text.trim_end());
        self.notes
            .push(json!({"section": self.section, "title": title, "text": text}));
    }

    pub fn markdown(&self) -> &str {
        &self.md
    }

    pub fn json(&self, meta: Value) -> Value {
        json!({"meta": meta, "figures": self.figures, "notes": self.notes})
    }
}
