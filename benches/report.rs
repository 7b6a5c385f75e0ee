//! `scripts/bench` (`cargo bench --bench report`): measures the service and writes
//! `reports/benchmark.md` and `reports/benchmark.json`. Figures, not assertions: the tests
//! assert behaviour. Every figure is the median of `MAILKEYS_BENCH_REPS` repetitions (3 by
//! default) with its range, beside the target where it sets one.
//!
//! Parts (`MAILKEYS_BENCH_ONLY=a,b` runs some; each in `report/`):
//! - `hashing`: Argon2id in the crate against libargon2, libsodium and `doveadm pw`;
//! - `startup`: start-up to the first served request, idle memory, binary size;
//! - `flood`: dashboard p50/p99 idle and during sign-in floods, memory, sign-ins/s, on SQLite
//!   and PostgreSQL;
//! - `wrk`: throughput of the sign-in page and the signed-in dashboard;
//! - `imap`: Dovecot 2.3 and 2.4 logins/s against passwd-files, 1 vs 50 app passwords,
//!   revocation to refusal and to a dropped session;
//! - `scale`: PostgreSQL with 100,000 accounts and 1,000,000 app passwords: Dovecot's
//!   queries and the dashboard, then the admin side (issue 11: account search, a user's page,
//!   audit export, bulk revocation with its longest lock);
//! - `enumeration`: sign-in times of unknown, disabled and known accounts.
//!
//! `MAILKEYS_BENCH_QUICK=1`: one repetition, small floods, short windows (to check that it
//! runs; the report's header says so).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark stops on a failed assumption

#[path = "report/admin_scale.rs"]
mod admin_scale;
#[path = "report/audit_export.rs"]
mod audit_export;
#[path = "report/bulk_scale.rs"]
mod bulk_scale;
#[path = "report/common.rs"]
mod common;
#[path = "report/enumeration.rs"]
mod enumeration;
#[path = "report/flood.rs"]
mod flood;
#[path = "report/hashing.rs"]
mod hashing;
#[path = "report/imap.rs"]
mod imap;
#[path = "report/record.rs"]
mod record;
#[path = "report/scale.rs"]
mod scale;
#[path = "report/startup.rs"]
mod startup;
#[path = "report/wrk.rs"]
mod wrk;

use std::process::Command;

use serde_json::json;

const PARTS: [&str; 7] = [
    "hashing",
    "startup",
    "flood",
    "wrk",
    "imap",
    "scale",
    "enumeration",
];

fn sh(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn proc_field(file: &str, key: &str) -> String {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        .unwrap_or_default()
}

fn meta() -> serde_json::Value {
    let commit = sh("git", &["rev-parse", "HEAD"]);
    let dirty = !sh("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty();
    let mem_kib: f64 = proc_field("/proc/meminfo", "MemTotal")
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap_or(0.0);
    json!({
        "date": time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        "commit": commit,
        "dirty": dirty,
        "command": std::env::var("MAILKEYS_BENCH_COMMAND")
            .unwrap_or_else(|_| "cargo bench --bench report".into()),
        "quick": common::cfg().quick,
        "reps": common::cfg().reps,
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
        "cpu": proc_field("/proc/cpuinfo", "model name"),
        "cores": common::cores(),
        "memory_gib": mem_kib / 1024.0 / 1024.0,
        "kernel": proc_field("/proc/sys/kernel/osrelease", ""),
        "loadavg_at_start": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
    })
}

fn header(meta: &serde_json::Value) -> String {
    let quick = if common::cfg().quick {
        "\n**QUICK MODE (`MAILKEYS_BENCH_QUICK=1`): one repetition, small floods, short \
         windows, a small PostgreSQL seed. These numbers only show that the benchmark runs; \
         they are not figures.**\n"
    } else {
        ""
    };
    let s = |k: &str| meta[k].as_str().unwrap_or_default().to_owned();
    format!(
        "# Mailkeys benchmark report\n{quick}\n\
         Written by `{}` on {}. Commit `{}`{}, {} build.\n\n\
         Machine: {}, {} cores, {:.1} GiB memory, Linux {}; load average at start {}.\n\n\
         Every figure is the median of its repetitions (reps) with the range (min–max) in \
         brackets; all loads are bounded in count and time and come from loopback, on the \
         same cores as the server. Targets are the issue's (14). The same figures, with every \
         repetition's value, are in `reports/benchmark.json`.",
        s("command"),
        s("date"),
        s("commit"),
        if meta["dirty"].as_bool() == Some(true) {
            " (with uncommitted changes)"
        } else {
            ""
        },
        s("build"),
        s("cpu"),
        meta["cores"],
        meta["memory_gib"].as_f64().unwrap_or(0.0),
        s("kernel"),
        s("loadavg_at_start"),
    )
}

/// Where a run's figures go: `reports/benchmark` for every part; a run of some parts only
/// writes `reports/benchmark-PART-PART` instead, so that it never replaces the full report's
/// other figures with nothing.
fn report_stem(wanted: &[&str]) -> String {
    if wanted.is_empty() || PARTS.iter().all(|p| wanted.contains(p)) {
        "reports/benchmark".to_owned()
    } else {
        let mut parts: Vec<&str> = PARTS
            .iter()
            .copied()
            .filter(|p| wanted.contains(p))
            .collect();
        parts.dedup();
        format!("reports/benchmark-{}", parts.join("-"))
    }
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` builds this target too and
    // runs it without, in debug mode, where its figures would mean nothing.
    if !std::env::args().any(|a| a == "--bench") {
        println!("benches/report.rs measures, it does not test: run `scripts/bench` (cargo bench) for figures.");
        return;
    }
    // The in-process Mailkeys of the IMAP part logs warnings only.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn,sqlx=error")
        .with_writer(std::io::stderr)
        .try_init();
    let only = std::env::var("MAILKEYS_BENCH_ONLY").unwrap_or_default();
    let wanted: Vec<&str> = only
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    for part in &wanted {
        assert!(
            PARTS.contains(part),
            "MAILKEYS_BENCH_ONLY: unknown part {part}; parts: {PARTS:?}"
        );
    }
    common::drop_leftover_databases().await;
    let meta = meta();
    let mut report = record::Report::new(&header(&meta));
    for part in PARTS {
        if !wanted.is_empty() && !wanted.contains(&part) {
            continue;
        }
        eprintln!("bench: {part}");
        match part {
            "hashing" => hashing::hashing(&mut report).await,
            "startup" => startup::startup(&mut report).await,
            "flood" => flood::flood(&mut report).await,
            "wrk" => wrk::wrk_part(&mut report).await,
            "imap" => imap::imap(&mut report).await,
            "scale" => scale::scale(&mut report).await,
            _ => enumeration::enumeration(&mut report).await,
        }
    }
    let mut meta = meta;
    meta["loadavg_at_end"] = json!(std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim());
    meta["parts"] = json!(if wanted.is_empty() {
        PARTS.to_vec()
    } else {
        wanted.clone()
    });
    std::fs::create_dir_all("reports").unwrap();
    let stem = report_stem(&wanted);
    std::fs::write(format!("{stem}.md"), report.markdown()).unwrap();
    let json = serde_json::to_string_pretty(&report.json(meta)).unwrap();
    std::fs::write(format!("{stem}.json"), json + "\n").unwrap();
    eprintln!("bench: wrote {stem}.md and {stem}.json");
    println!("{}", report.markdown());
}
