//! `cargo bench --bench report` (or `scripts/bench`): measures the running service and
//! writes `reports/benchmark.md`. Figures, not assertions: the tests assert behaviour.
//!
//! 1. Sign-in flood: 500 concurrent sign-in attempts at the real argon2 cost, while a
//!    signed-in user keeps loading the dashboard. Peak RSS against the bound the hashing
//!    limit implies; dashboard latency during the flood against idle.
//! 2. Enumeration: 1,000 sign-ins each for unknown accounts, disabled accounts and wrong
//!    passwords; status codes and median times side by side.
//! 3. IMAP through a real Dovecot, 2.3 and 2.4 side by side (the test harness, generated
//!    configuration): logins per second with Mailkeys' database against a plain passwd-file,
//!    1 against 50 app passwords, and the time from a revocation to the first refused login.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark stops on a failed assumption

#[path = "report/imap.rs"]
mod imap;

use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mailkeys::config::Settings;
use mailkeys::infra::hashing::{Hasher, Profile};
use mailkeys::store::{users, Db};
use mailkeys_test_support::browser::Browser;
use mailkeys_test_support::ports::reserve_port;
use secrecy::SecretString;

const PASSWORD: &str = "correct pony staple ledger";

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
    db_url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[allow(clippy::zombie_processes)] // Server's Drop kills and waits for the child
async fn start_server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let port = reserve_port().release();
    let child = Command::new(env!("CARGO_BIN_EXE_mailkeys"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &db_url)
        .env("MAILKEYS_SIGN_IN_PER_IP_PER_MINUTE", "1000000")
        // The flood comes from one loopback address, 500 connections at once.
        .env("MAILKEYS_MAX_CONNECTIONS_PER_ADDRESS", "1000")
        .env("MAILKEYS_MAX_CONNECTIONS", "1000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            return Server {
                child,
                base,
                _dir: dir,
                db_url,
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server did not start");
}

/// Inserts `count` accounts named `{prefix}{n}@example.org` sharing one real main-profile
/// hash (verification costs the same whichever account it is).
pub(crate) async fn seed(db: &Db, prefix: &str, count: usize, hash: &str, disabled: bool) {
    let mut tx = db.pool.begin().await.unwrap();
    for n in 0..count {
        let email = format!("{prefix}{n}@example.org");
        let id = users::insert(
            &mut *tx,
            users::NewUser {
                email: &email,
                password_hash: hash,
                is_admin: false,
                main_imap_allowed: false,
                now: 0,
            },
        )
        .await
        .unwrap();
        if disabled {
            users::set_admin_flag(&mut *tx, id, users::AdminFlag::Disabled, true)
                .await
                .unwrap();
        }
    }
    tx.commit().await.unwrap();
}

/// Signs in with a browser of its own; the status and the time of the sign-in request.
async fn sign_in(base: &str, email: &str, password: &str) -> (u16, Duration) {
    let (response, took) = Browser::new(base).sign_in_timed(email, password).await;
    (response.status().as_u16(), took)
}

pub(crate) fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn dashboard_latencies(viewer: &Browser, until: impl Fn() -> bool) -> Vec<Duration> {
    let mut samples = Vec::new();
    while !until() {
        let started = Instant::now();
        let status = viewer.get("/").await.status();
        assert_eq!(status, 200);
        samples.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    samples
}

/// A hasher at the default (real) costs, `concurrency` hashes at once, and its
/// main-profile hash of PASSWORD.
pub(crate) async fn real_hasher_and_hash(concurrency: usize) -> (Hasher, String) {
    let defaults = Settings::default();
    let hasher = Hasher::new(defaults.main_profile(), defaults.app_profile(), concurrency).unwrap();
    let hash = hasher
        .hash(Profile::Main, SecretString::from(PASSWORD))
        .await
        .unwrap();
    (hasher, hash)
}

/// The id of the account `email`.
pub(crate) async fn user_id_of(db: &Db, email: &str) -> mailkeys::domain::UserId {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

/// A table row `| what: p50 / p99 (N requests) | … / … |` of `samples`.
fn p50_p99_row(report: &mut String, what: &str, samples: &mut [Duration]) {
    let _ = writeln!(
        report,
        "| {what}: p50 / p99 ({} requests) | {} / {} |",
        samples.len(),
        ms(percentile(samples, 0.5)),
        ms(percentile(samples, 0.99))
    );
}

/// The server's database, and a main-profile hash of PASSWORD at the default (real) cost.
async fn open_with_real_hash(db_url: &str) -> (Db, String) {
    let db = Db::connect(db_url).await.unwrap();
    let (_, hash) = real_hasher_and_hash(1).await;
    (db, hash)
}

async fn flood(report: &mut String) {
    let server = start_server().await;
    let (db, hash) = open_with_real_hash(&server.db_url).await;
    seed(&db, "dash", 1, &hash, false).await;
    let viewer = Browser::new(&server.base);
    assert_eq!(
        viewer.sign_in("dash0@example.org", PASSWORD).await.status(),
        303
    );

    let idle_end = Instant::now() + Duration::from_secs(5);
    let mut idle = dashboard_latencies(&viewer, || Instant::now() > idle_end).await;
    let rss_idle = peak_rss_kib(server.child.id());

    let attempts = 500;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..attempts {
        let base = server.base.clone();
        tasks.push(tokio::spawn(async move {
            sign_in(&base, &format!("flood{n}@example.org"), "wrong password")
                .await
                .0
        }));
    }
    let flag = done.clone();
    let waiter = tokio::spawn(async move {
        let mut statuses = std::collections::BTreeMap::new();
        for task in tasks {
            *statuses.entry(task.await.unwrap()).or_insert(0) += 1;
        }
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
        statuses
    });
    let mut during =
        dashboard_latencies(&viewer, || done.load(std::sync::atomic::Ordering::SeqCst)).await;
    let statuses = waiter.await.unwrap();
    let flood_time = started.elapsed();
    let rss_peak = peak_rss_kib(server.child.id());
    if std::env::var("MAILKEYS_BENCH_DEBUG").is_ok() {
        let smaps = std::fs::read_to_string(format!("/proc/{}/smaps", server.child.id()))
            .unwrap_or_default();
        let mut region = String::new();
        for line in smaps.lines() {
            if line.contains('-') && !line.starts_with(|c: char| c.is_ascii_uppercase()) {
                region = line.to_owned();
            } else if let Some(rss) = line.strip_prefix("Rss:") {
                let kib: u64 = rss
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .unwrap_or(0);
                if kib > 4096 {
                    eprintln!("{kib:>8} kB  {region}");
                }
            }
        }
        eprintln!(
            "{}",
            std::fs::read_to_string(format!("/proc/{}/status", server.child.id()))
                .unwrap_or_default()
        );
    }

    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let bound_kib =
        rss_idle + cores * u64::from(Settings::default().hash_main_memory_kib) + 8 * 1024;
    let _ = writeln!(
        report,
        "## 1. Sign-in flood: {attempts} concurrent attempts at m=19456 KiB, t=2\n"
    );
    let _ = writeln!(report, "| figure | value |\n|---|---|");
    let _ = writeln!(
        report,
        "| attempts answered | {statuses:?} (status: count) in {:.1} s |",
        flood_time.as_secs_f64()
    );
    let _ = writeln!(
        report,
        "| peak RSS before the flood | {} MiB |",
        rss_idle / 1024
    );
    let _ = writeln!(
        report,
        "| peak RSS after the flood | {} MiB |",
        rss_peak / 1024
    );
    let _ = writeln!(report, "| bound implied by the hashing limit ({cores} at once × 19 MiB + 8 MiB slack over idle) | {} MiB |", bound_kib / 1024);
    p50_p99_row(report, "dashboard idle", &mut idle);
    p50_p99_row(report, "dashboard during the flood", &mut during);
    report.push('\n');
}

async fn enumeration(report: &mut String) {
    let server = start_server().await;
    let (db, hash) = open_with_real_hash(&server.db_url).await;
    let n = 1000;
    seed(&db, "known", n, &hash, false).await;
    seed(&db, "disabled", n, &hash, true).await;
    let mut rows = Vec::new();
    // Interleaved, so that drift on the machine hits the three kinds alike.
    let mut times: [Vec<Duration>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let mut statuses: [std::collections::BTreeSet<u16>; 3] = Default::default();
    let mut bodies: [std::collections::BTreeSet<usize>; 3] = Default::default();
    for i in 0..n {
        for (kind, (email, password)) in [
            (format!("unknown{i}@example.org"), "wrong password"),
            (format!("disabled{i}@example.org"), PASSWORD),
            (format!("known{i}@example.org"), "wrong password"),
        ]
        .into_iter()
        .enumerate()
        {
            let (response, took) = Browser::new(&server.base)
                .sign_in_timed(&email, password)
                .await;
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            times[kind].push(took);
            statuses[kind].insert(status);
            // The body echoes the typed address; its length differs by the digits only.
            bodies[kind].insert(body.replace(&email, "").len());
        }
    }
    for (kind, name) in ["unknown account", "disabled account", "wrong password"]
        .iter()
        .enumerate()
    {
        let median = percentile(&mut times[kind], 0.5);
        rows.push((name, median, statuses[kind].clone(), bodies[kind].clone()));
    }
    let base = rows[2].1.as_secs_f64();
    let _ = writeln!(
        report,
        "## 2. User enumeration: {n} sign-ins of each kind, interleaved\n"
    );
    let _ = writeln!(report, "| kind | statuses | body lengths (address removed) | median | vs wrong password |\n|---|---|---|---|---|");
    for (name, median, statuses, bodies) in rows {
        let _ = writeln!(
            report,
            "| {name} | {statuses:?} | {bodies:?} | {} | {:+.2} ms |",
            ms(median),
            (median.as_secs_f64() - base) * 1000.0
        );
    }
    let _ = writeln!(report);
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` builds this target too and
    // runs it without, in debug mode, where its figures would mean nothing.
    if !std::env::args().any(|a| a == "--bench") {
        println!("benches/report.rs measures, it does not test: run `scripts/bench` (cargo bench) for figures.");
        return;
    }
    let mut report = String::from("# Mailkeys benchmark report\n\n");
    let _ = writeln!(
        report,
        "Written by `scripts/bench` (`cargo bench --bench report`) on {} cores. Release build, SQLite, default cost profiles.\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    // `MAILKEYS_BENCH_ONLY=flood` (or `enumeration`, `imap`) runs one part, for a quick look.
    let only = std::env::var("MAILKEYS_BENCH_ONLY").unwrap_or_default();
    let wanted = |part: &str| only.is_empty() || only == part;
    if wanted("flood") {
        flood(&mut report).await;
    }
    if wanted("enumeration") {
        enumeration(&mut report).await;
    }
    if wanted("imap") {
        imap::imap(&mut report).await;
    }
    std::fs::create_dir_all("reports").unwrap();
    std::fs::write("reports/benchmark.md", &report).unwrap();
    println!("{report}");
}
