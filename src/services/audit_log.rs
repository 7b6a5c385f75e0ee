//! The audit log as admins read it: filtered across accounts, exported as CSV or JSON Lines
//! (page by page, so any size streams in bounded memory), and trimmed to the retention
//! setting by the one cleanup allowed to delete, which audits itself.

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::Services;
use crate::error::{AppError, AppResult};
use crate::store::audit::{self, Entry, Event};
use crate::store::audit_search::{self, AuditEntry, AuditFilter, Order};

/// Rows read per query of an export.
pub const EXPORT_PAGE: i64 = 1000;

/// The export formats.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// Comma-separated values with a header line (RFC 4180).
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl ExportFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Jsonl => "application/jsonl; charset=utf-8",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Jsonl => "jsonl",
        }
    }
}

/// One exported entry: the stored row with its time also in RFC 3339 (UTC).
#[derive(Serialize)]
struct Exported<'a> {
    id: i64,
    time: String,
    at: i64,
    event: &'a str,
    actor: Option<&'a str>,
    subject: Option<&'a str>,
    ip: Option<&'a str>,
    detail: &'a str,
}

fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// A page of the admin view: newest first, older than `before` (an entry id).
pub async fn newest(
    state: &Services,
    filter: &AuditFilter,
    before: Option<i64>,
    limit: i64,
) -> AppResult<Vec<AuditEntry>> {
    Ok(audit_search::page(&state.db, filter, Order::NewestFirst, before, limit).await?)
}

/// Renders `rows` in `format`; `first` adds the CSV header.
pub fn render(rows: &[AuditEntry], format: ExportFormat, first: bool) -> AppResult<Vec<u8>> {
    let exported = rows.iter().map(|r| Exported {
        id: r.id,
        time: rfc3339(r.at),
        at: r.at,
        event: &r.event,
        actor: r.actor.as_deref(),
        subject: r.subject.as_deref(),
        ip: r.ip.as_deref(),
        detail: &r.detail,
    });
    match format {
        ExportFormat::Csv => {
            let mut out = csv::WriterBuilder::new()
                .has_headers(first)
                .from_writer(Vec::new());
            for row in exported {
                out.serialize(row).map_err(AppError::internal)?;
            }
            out.into_inner()
                .map_err(|e| AppError::internal(e.into_error()))
        }
        ExportFormat::Jsonl => {
            let mut out = Vec::new();
            for row in exported {
                serde_json::to_writer(&mut out, &row).map_err(AppError::internal)?;
                out.push(b'\n');
            }
            Ok(out)
        }
    }
}

/// Hands the export of everything matching `filter`, oldest first, to `sink` one page of
/// rendered bytes at a time (a CSV header even when nothing matches). Stops early, without
/// error, when `sink` answers false (the reader went away). Returns the rows exported.
pub async fn export<F, Fut>(
    state: &Services,
    filter: &AuditFilter,
    format: ExportFormat,
    mut sink: F,
) -> AppResult<u64>
where
    F: FnMut(Vec<u8>) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut cursor = None;
    let mut exported = 0;
    let mut first = true;
    loop {
        let rows =
            audit_search::page(&state.db, filter, Order::OldestFirst, cursor, EXPORT_PAGE).await?;
        if rows.is_empty() && !first {
            return Ok(exported);
        }
        let bytes = render(&rows, format, first)?;
        first = false;
        exported += rows.len() as u64;
        if !bytes.is_empty() && !sink(bytes).await {
            return Ok(exported);
        }
        match rows.last() {
            Some(last) if rows.len() as i64 == EXPORT_PAGE => cursor = Some(last.id),
            _ => return Ok(exported),
        }
    }
}

/// Deletes the entries older than the retention setting, with the cleanup's own entry in the
/// same transaction. Returns how many were deleted (none when retention is off).
pub async fn clean_up(state: &Services) -> AppResult<u64> {
    let days = state.settings.audit_retention_days;
    if days == 0 {
        return Ok(0);
    }
    let now = state.now();
    let cutoff = now - i64::from(days) * 86_400;
    let mut tx = state.db.begin().await?;
    let deleted = audit_search::delete_older_than(&mut tx, cutoff).await?;
    if deleted == 0 {
        // Nothing changed: no entry either, or an idle installation would log a line a day.
        return Ok(0);
    }
    let detail = format!(
        "{deleted} entries from before {} deleted (retention {days} days)",
        rfc3339(cutoff)
    );
    let entry = Entry {
        actor: None,
        subject: None,
        event: Event::AuditCleanedUp,
        detail,
        ip: None,
    };
    audit::record(&mut *tx, entry, now).await?;
    tx.commit().await?;
    Ok(deleted)
}
