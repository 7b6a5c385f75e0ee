//! Audit export rate at scale: the admin's download (`/admin/audit/export`, CSV and JSON
//! Lines, streamed a page of rows at a time) and `mailkeys audit export` on the host, over
//! every entry of the scale database.

use std::process::{Command, Stdio};
use std::time::Instant;

use mailkeys_test_support::browser::Browser;
use sqlx::Connection as _;

use super::common::{cfg, Server};
use super::record::Report;

/// Rows in an export of `bytes`: one a line, after the CSV header (the seeded details hold
/// no line breaks, so a line is a row).
fn rows_in(newlines: usize, format: &str) -> usize {
    if format == "csv" {
        newlines.saturating_sub(1)
    } else {
        newlines
    }
}

async fn audit_count(url: &str) -> usize {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    n as usize
}

/// The download of every entry as `format`, read to its end; (rows, bytes, seconds).
async fn web_export(admin: &Browser, format: &str) -> (usize, usize, f64) {
    let started = Instant::now();
    let mut response = admin
        .get(&format!("/admin/audit/export?format={format}"))
        .await;
    assert_eq!(response.status(), 200, "export as {format}");
    let (mut newlines, mut bytes) = (0, 0);
    while let Some(chunk) = response.chunk().await.unwrap() {
        bytes += chunk.len();
        newlines += chunk.iter().filter(|&&b| b == b'\n').count();
    }
    (
        rows_in(newlines, format),
        bytes,
        started.elapsed().as_secs_f64(),
    )
}

/// `mailkeys audit export --format FORMAT` on the database, its output counted as it comes.
fn cli_export(url: &str, format: &str) -> (usize, usize, f64) {
    use std::io::Read as _;
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailkeys"))
        .args(["audit", "export", "--format", format])
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let (mut newlines, mut bytes) = (0, 0);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = out.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        bytes += n;
        newlines += buf[..n].iter().filter(|&&b| b == b'\n').count();
    }
    assert!(child.wait().unwrap().success(), "mailkeys audit export");
    (
        rows_in(newlines, format),
        bytes,
        started.elapsed().as_secs_f64(),
    )
}

pub async fn audit_export(
    report: &mut Report,
    server: &Server,
    admin: &Browser,
    seeded: usize,
    seed_secs: f64,
) {
    let total = audit_count(&server.db_url).await;
    report.section(
        "Audit export at scale",
        &format!(
            "{seeded} audit entries seeded by `INSERT … SELECT generate_series` in \
             {seed_secs:.1} s ({total} in the log with the run's own), exported whole: the \
             admin's download `/admin/audit/export?format=csv` and `?format=jsonl` read to \
             the last byte by one client over loopback, and `mailkeys audit export --format \
             csv|jsonl` (the release binary, its output read through a pipe and counted). \
             Rate = rows exported ÷ time from the request (or the process start, which \
             includes connecting and migrating) to the last byte; each repetition exports \
             everything once, and the row count is checked against the table's."
        ),
    );
    for format in ["csv", "jsonl"] {
        let (mut rates, mut mib_s) = (Vec::new(), Vec::new());
        for _ in 0..cfg().reps {
            let (rows, bytes, secs) = web_export(admin, format).await;
            assert!(
                rows >= total,
                "the {format} export has {rows} of {total} rows"
            );
            rates.push(rows as f64 / secs);
            mib_s.push(bytes as f64 / secs / 1024.0 / 1024.0);
        }
        report.figure(
            &format!("web export as {format}: rows/s"),
            "rows/s",
            &rates,
            None,
        );
        report.figure(
            &format!("web export as {format}: MiB/s"),
            "MiB/s",
            &mib_s,
            None,
        );
    }
    for format in ["csv", "jsonl"] {
        let mut rates = Vec::new();
        for _ in 0..cfg().reps {
            let url = server.db_url.clone();
            let fmt = format.to_owned();
            let (rows, _, secs) = tokio::task::spawn_blocking(move || cli_export(&url, &fmt))
                .await
                .unwrap();
            assert!(
                rows >= total,
                "the CLI {format} export has {rows} of {total} rows"
            );
            rates.push(rows as f64 / secs);
        }
        report.figure(
            &format!("`mailkeys audit export --format {format}`: rows/s"),
            "rows/s",
            &rates,
            None,
        );
    }
}
