//! What the parts share: the run's settings (repetitions, quick mode), a `mailkeys serve`
//! process on a fresh SQLite or PostgreSQL database, seeding, real-cost hashes, memory from
//! /proc, a signed-in browser whose cookie `wrk` can reuse, and percentiles.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use mailkeys::config::Settings;
use mailkeys::store::{users, Db};
use mailkeys_test_support::app::{new_postgres_database, postgres_admin_url, Backend};
use mailkeys_test_support::browser::Browser;
use mailkeys_test_support::ports::reserve_port;
use reqwest::cookie::CookieStore as _;
use sqlx::Connection as _;

pub const PASSWORD: &str = "correct pony staple ledger";

/// Repetitions and sizes of this run (`MAILKEYS_BENCH_QUICK`, `MAILKEYS_BENCH_REPS`).
pub struct Config {
    pub quick: bool,
    pub reps: usize,
}

pub fn cfg() -> &'static Config {
    static CFG: OnceLock<Config> = OnceLock::new();
    CFG.get_or_init(|| {
        let quick = std::env::var("MAILKEYS_BENCH_QUICK").is_ok_and(|v| v == "1");
        let reps = std::env::var("MAILKEYS_BENCH_REPS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n: &usize| n >= 1)
            .unwrap_or(if quick { 1 } else { 3 });
        Config { quick, reps }
    })
}

/// `full` in a real run, `quick` in quick mode.
pub fn size(full: usize, quick: usize) -> usize {
    if cfg().quick {
        quick
    } else {
        full
    }
}

pub fn secs(full: f64, quick: f64) -> Duration {
    Duration::from_secs_f64(if cfg().quick { quick } else { full })
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    }
}

/// A fresh database: a SQLite file in `dir`, or a new PostgreSQL database `mk_bench_*`
/// (dropped by `drop_database`).
pub async fn fresh_database(backend: Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.join("bench.db").display()),
        Backend::Postgres => new_postgres_database("mk_bench").await,
    }
}

/// Drops the `mk_bench_*` databases an interrupted run left behind; nothing when
/// PostgreSQL does not answer (the parts that need it fail then).
pub async fn drop_leftover_databases() {
    let Ok(mut conn) = sqlx::PgConnection::connect(&postgres_admin_url()).await else {
        return;
    };
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'mk_bench_%'")
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
    for name in names {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
    }
}

/// Drops a database `fresh_database` created on PostgreSQL (nothing for SQLite).
pub async fn drop_database(url: &str) {
    if let Some(name) = url
        .rsplit('/')
        .next()
        .filter(|n| n.starts_with("mk_bench_"))
    {
        let mut conn = sqlx::PgConnection::connect(&postgres_admin_url())
            .await
            .unwrap();
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

/// `mailkeys serve` (the built binary) on loopback, its log in a file.
pub struct Server {
    child: Child,
    pub base: String,
    pub db_url: String,
    /// From spawning the process to the first answered `/healthz`.
    pub startup: Duration,
    dir: tempfile::TempDir,
}

impl Server {
    /// A server on a fresh database of `backend`; `env` adds settings.
    pub async fn start(backend: Backend, env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let db_url = fresh_database(backend, dir.path()).await;
        Self::start_on(dir, db_url, env).await
    }

    #[allow(clippy::zombie_processes)] // `stop` (or Drop) kills and waits for the child
    pub async fn start_on(dir: tempfile::TempDir, db_url: String, env: &[(&str, &str)]) -> Server {
        let port = reserve_port().release();
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let started = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_mailkeys"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .current_dir(dir.path())
            .env("DATABASE_URL", &db_url)
            .env("MAILKEYS_SIGN_IN_PER_IP_PER_MINUTE", "1000000")
            // A flood of 500 connections at once stays under the listener's caps.
            .env("MAILKEYS_MAX_CONNECTIONS", "2000")
            .env("MAILKEYS_MAX_CONNECTIONS_PER_ADDRESS", "1000")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = started + Duration::from_secs(60);
        let startup = loop {
            if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
                if r.status() == 200 {
                    break started.elapsed();
                }
            }
            let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
            assert!(Instant::now() < deadline, "server did not start: {log}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        Server {
            child,
            base,
            db_url,
            startup,
            dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmRSS:")
    }

    pub fn peak_rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmHWM:")
    }

    /// How many sqlx "slow statement" warnings the server has logged so far.
    pub fn slow_statements(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("server.log"))
            .unwrap_or_default()
            .matches("slow statement")
            .count()
    }

    pub async fn db(&self) -> Db {
        Db::connect(&self.db_url).await.unwrap()
    }

    /// Kills the server and drops its PostgreSQL database.
    pub async fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        drop_database(&self.db_url).await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU time `pid` has used so far (user and system, all threads), in seconds: fields 14 and
/// 15 of /proc/PID/stat, in clock ticks of 1/100 s (USER_HZ on Linux).
pub fn proc_cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    (ticks(11) + ticks(12)) / 100.0
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// A `{ARGON2ID}` hash of `password` at `m` KiB, `t` iterations, `p` lanes, made with the
/// argon2 crate as Mailkeys makes them.
pub fn argon2_hash(password: &str, m: u32, t: u32, p: u32) -> String {
    let params = Params::new(m, t, p, None).unwrap();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = SaltString::encode_b64(b"mailkeys-bench-s").unwrap();
    let phc = argon.hash_password(password.as_bytes(), &salt).unwrap();
    format!("{}{phc}", mailkeys::infra::hashing::DOVECOT_PREFIX)
}

/// A main-profile hash of PASSWORD at the default (real) cost.
pub fn real_main_hash() -> String {
    let s = Settings::default();
    argon2_hash(
        PASSWORD,
        s.hash_main_memory_kib,
        s.hash_main_iterations,
        s.hash_main_parallelism,
    )
}

/// Inserts `count` accounts `{prefix}{n}@example.org` sharing `hash`, in one transaction.
pub async fn seed(db: &Db, prefix: &str, count: usize, hash: &str) {
    let mut tx = db.pool.begin().await.unwrap();
    for n in 0..count {
        let email = format!("{prefix}{n}@example.org");
        let user = users::NewUser {
            email: &email,
            password_hash: hash,
            is_admin: false,
            is_superadmin: false,
            main_imap_allowed: false,
            now: 0,
        };
        users::insert(&mut *tx, user).await.unwrap();
    }
    tx.commit().await.unwrap();
}

/// A browser whose connections come from the loopback address 127.`net`.x.y numbered `n`
/// (below 64,000), so that per-address limits see many clients, as from a distributed flood.
pub fn browser_from(base: &str, net: u8, n: usize) -> Browser {
    let source = std::net::Ipv4Addr::new(127, net, (n / 250) as u8, 1 + (n % 250) as u8);
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .local_address(std::net::IpAddr::V4(source))
        .build()
        .unwrap();
    Browser {
        client,
        base: base.to_owned(),
    }
}

/// A browser signed in as `email` with PASSWORD, and the `Cookie` header it sends (for wrk).
pub async fn signed_in(base: &str, email: &str) -> (Browser, String) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let browser = Browser {
        client,
        base: base.to_owned(),
    };
    let status = browser.sign_in(email, PASSWORD).await.status();
    assert_eq!(status, 303, "sign-in of {email}");
    let url: url::Url = base.parse().unwrap();
    let cookie = jar
        .cookies(&url)
        .and_then(|v| v.to_str().ok().map(str::to_owned))
        .unwrap_or_default();
    (browser, cookie)
}

/// The `p` quantile (0..=1) of `samples`, in milliseconds.
pub fn quantile_ms(samples: &mut [Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index].as_secs_f64() * 1000.0
}

/// Dashboard loads by `viewer`, one after the other 10 ms apart, until `until()`; the
/// times, and the highest RSS of `pid` seen between them (KiB).
/// A signed-in user's browser, as the server sees it: the address and the session cookie.
#[derive(Clone)]
pub struct Viewer {
    base: String,
    cookie: String,
}

impl Viewer {
    /// Signs `email` in (with PASSWORD) on `base`.
    pub async fn signed_in(base: &str, email: &str) -> Self {
        let (_, cookie) = signed_in(base, email).await;
        Self {
            base: base.to_owned(),
            cookie,
        }
    }
}

/// Loads the dashboard as `viewer`, one request after another 10 ms apart, until `until`
/// says stop: each load's time, and the highest RSS of `pid` seen between loads.
///
/// The loads run on a thread and a runtime of their own, as a user's browser is a process of
/// its own: on the benchmark's runtime, the answer to a load waited in the same run queue as
/// hundreds of flood clients, which timed the benchmark's own queue, not the server.
pub async fn dashboard_samples(
    viewer: &Viewer,
    pid: u32,
    until: impl Fn() -> bool + Send + 'static,
) -> (Vec<Duration>, u64) {
    let viewer = viewer.clone();
    let thread = std::thread::Builder::new()
        .name("dashboard-viewer".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(load_dashboard(viewer, pid, until))
        })
        .unwrap();
    tokio::task::spawn_blocking(move || thread.join().unwrap())
        .await
        .unwrap()
}

async fn load_dashboard(
    viewer: Viewer,
    pid: u32,
    until: impl Fn() -> bool,
) -> (Vec<Duration>, u64) {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::COOKIE,
        reqwest::header::HeaderValue::from_str(&viewer.cookie).unwrap(),
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap();
    let url = format!("{}/", viewer.base);
    let mut samples = Vec::new();
    let mut peak = 0;
    while !until() {
        let started = Instant::now();
        let response = client.get(&url).send().await.unwrap();
        let status = response.status();
        let _ = response.bytes().await.unwrap();
        samples.push(started.elapsed());
        assert_eq!(status, 200, "dashboard");
        peak = peak.max(proc_status_kib(pid, "VmRSS:"));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (samples, peak)
}

/// Times `f` `count` times; the median in milliseconds.
pub fn median_ms_of(count: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..count)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
