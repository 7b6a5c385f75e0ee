//! Sign-in floods while a signed-in user keeps loading the dashboard: its p50/p99 against
//! idle, the server's memory, and sign-ins per second against what the cores allow.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailkeys_test_support::app::Backend;

use super::common::{
    backend_name, browser_from, cfg, cores, dashboard_samples, mib, proc_cpu_secs, quantile_ms,
    real_main_hash, secs, seed, size, Server, Viewer,
};
use super::hashing::{crate_ms, profiles};
use super::record::{median, Report, Target};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Distinct,
    Unknown,
    OneAccount,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Distinct, Kind::Unknown, Kind::OneAccount];
    fn label(self) -> &'static str {
        match self {
            Kind::Distinct => "distinct accounts",
            Kind::Unknown => "unknown accounts",
            Kind::OneAccount => "one account",
        }
    }
}

/// How long after the last flood memory is read "at rest": past the hashing threads' quiet
/// period (2 s) and the 30 s within which the database pools close the connections a burst
/// opened, after which both have let go of what the flood made them take.
const AT_REST: Duration = Duration::from_secs(35);

/// What one flood gave.
struct Flood {
    loads: f64,
    p50: f64,
    p99: f64,
    secs: f64,
    /// The server's CPU time (all threads) per attempt, in milliseconds.
    cpu_ms_per_attempt: f64,
    peak_rss_mib: f64,
    statuses: BTreeMap<u16, usize>,
}

/// `attempts` concurrent wrong-password sign-ins of `kind` while `viewer` loads the
/// dashboard; every sign-in bounded to 60 s.
async fn one_flood(
    server: &Server,
    viewer: &Viewer,
    kind: Kind,
    attempts: usize,
    tag: &str,
) -> Flood {
    // Every attacker's client is made before the flood starts: building one (its TLS roots,
    // its pool) costs the benchmark's process a millisecond or more of CPU, which during the
    // flood took the server's cores from it and timed the benchmark, not the service.
    let browsers: Vec<_> = (0..attempts)
        .map(|n| browser_from(&server.base, 1, n))
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    let cpu_before = proc_cpu_secs(server.pid());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (n, browser) in browsers.into_iter().enumerate() {
        let email = match kind {
            Kind::Distinct => format!("{tag}{n}@example.org"),
            Kind::Unknown => format!("nobody{tag}{n}@example.org"),
            Kind::OneAccount => format!("victim{tag}0@example.org"),
        };
        tasks.push(tokio::spawn(async move {
            let attempt = browser.sign_in_timed(&email, "wrong password");
            match tokio::time::timeout(Duration::from_secs(60), attempt).await {
                Ok((response, _)) => response.status().as_u16(),
                Err(_) => 0,
            }
        }));
    }
    let flag = done.clone();
    let waiter = tokio::spawn(async move {
        let mut statuses = BTreeMap::new();
        for task in tasks {
            *statuses.entry(task.await.unwrap()).or_insert(0) += 1;
        }
        flag.store(true, Ordering::SeqCst);
        statuses
    });
    let (mut during, peak) = dashboard_samples(viewer, server.pid(), {
        let done = done.clone();
        move || done.load(Ordering::SeqCst)
    })
    .await;
    let statuses = waiter.await.unwrap();
    Flood {
        loads: during.len() as f64,
        p50: quantile_ms(&mut during, 0.5),
        p99: quantile_ms(&mut during, 0.99),
        secs: started.elapsed().as_secs_f64(),
        cpu_ms_per_attempt: (proc_cpu_secs(server.pid()) - cpu_before) * 1000.0 / attempts as f64,
        peak_rss_mib: mib(peak),
        statuses,
    }
}

#[derive(Default)]
struct Series {
    idle_p50: Vec<f64>,
    idle_p99: Vec<f64>,
    rss_idle: Vec<f64>,
    rss_rest: Vec<f64>,
    vm_hwm: Vec<f64>,
    slow: Vec<f64>,
    /// By (size, kind index): the floods of each repetition, with that repetition's idle p99.
    floods: BTreeMap<(usize, usize), Vec<(Flood, f64)>>,
}

async fn repetition(backend: Backend, sizes: [usize; 2], hash: &str, series: &mut Series) {
    let server = Server::start(backend, &[]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    series.rss_idle.push(mib(server.rss_kib()));
    let db = server.db().await;
    seed(&db, "viewer", 1, hash).await;
    for s in sizes {
        seed(&db, &format!("flood{s}_"), s, hash).await;
        seed(&db, &format!("victimflood{s}_"), 1, hash).await;
    }
    db.pool.close().await;
    let viewer = Viewer::signed_in(&server.base, "viewer0@example.org").await;
    let idle_end = Instant::now() + secs(5.0, 1.0);
    let (mut idle, _) =
        dashboard_samples(&viewer, server.pid(), move || Instant::now() > idle_end).await;
    let idle_p99 = quantile_ms(&mut idle, 0.99);
    series.idle_p50.push(quantile_ms(&mut idle, 0.5));
    series.idle_p99.push(idle_p99);
    for s in sizes {
        for (k, kind) in Kind::ALL.into_iter().enumerate() {
            let flood = one_flood(&server, &viewer, kind, s, &format!("flood{s}_")).await;
            series
                .floods
                .entry((s, k))
                .or_default()
                .push((flood, idle_p99));
            // Let the queue drain before the next flood.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    tokio::time::sleep(AT_REST).await;
    series.rss_rest.push(mib(server.rss_kib()));
    series.vm_hwm.push(mib(server.peak_rss_kib()));
    series.slow.push(server.slow_statements() as f64);
    server.stop().await;
}

pub async fn flood(report: &mut Report) {
    let sizes = [size(200, 20), size(500, 50)];
    let main = profiles()[0];
    let hash = real_main_hash();
    // The hash time this machine needs, for the sign-in limit (cores ÷ hash time).
    let hash_ms = median(
        &(0..cfg().reps)
            .map(|_| crate_ms(main, size(5, 2)))
            .collect::<Vec<_>>(),
    );
    let limit = cores() as f64 * 1000.0 / hash_ms;
    // The hashing threads the server starts: `MAILKEYS_HASH_CONCURRENCY` when this run sets
    // it (the server inherits the environment, which is how the threads are compared), else
    // the default, one fewer than the cores and at least one.
    let concurrency = std::env::var("MAILKEYS_HASH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(mailkeys::config::Settings::default().hash_concurrency);
    let threads = mailkeys::infra::hashing::threads_for(concurrency);
    let pool_limit = threads as f64 * 1000.0 / hash_ms;
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = backend_name(backend);
        report.section(
            &format!("Sign-in floods, {db}"),
            &format!(
                "A fresh `mailkeys serve` (as built, default costs: m={} KiB, t={}; {threads} \
                 hashing thread(s)) per repetition. A signed-in user loads the dashboard one request after another, \
                 10 ms apart, from a thread and an async runtime of its own (as a browser is \
                 a process of its own; on the flood's runtime its answers waited behind the \
                 flood's clients), reading each answer whole: idle for {:.0} s, then during \
                 each flood of concurrent wrong-password sign-ins ({} and {} attempts; to \
                 distinct existing accounts, to unknown accounts, and all to one account), \
                 each sign-in with its own client, made before the flood starts (GET the \
                 form, POST it), from loopback. Ratio: a repetition's p99 during the \
                 flood over its own idle p99. Server CPU per attempt: the server process's user and \
                 system time during the flood (from /proc) over the attempts. Peak RSS: the \
                 highest `VmRSS` seen between \
                 dashboard loads. Sign-ins/s: attempts ÷ flood time, against the limit \
                 {} cores × 1000 ÷ {:.1} ms (the argon2 crate's main-profile hash on this \
                 machine) = {:.1}/s; and against the hashing threads' limit, {threads} \
                 × 1000 ÷ {:.1} ms = {:.1}/s. Each attempt comes from its own loopback address \
                 (127.1.x.y), like a distributed flood, so per-address limits do not cut it \
                 short.",
                main.m,
                main.t,
                secs(5.0, 1.0).as_secs_f64(),
                sizes[0],
                sizes[1],
                cores(),
                hash_ms,
                limit,
                hash_ms,
                pool_limit
            ),
        );
        let mut series = Series::default();
        for _ in 0..cfg().reps {
            repetition(backend, sizes, &hash, &mut series).await;
        }
        report.figure("dashboard idle p50", "ms", &series.idle_p50, None);
        report.figure("dashboard idle p99", "ms", &series.idle_p99, None);
        let mut statuses = Vec::new();
        for ((s, k), floods) in &series.floods {
            let what = format!("flood of {s}, {}", Kind::ALL[*k].label());
            let pick =
                |f: fn(&Flood) -> f64| floods.iter().map(|(fl, _)| f(fl)).collect::<Vec<_>>();
            report.figure(
                &format!("{what}: dashboard loads measured"),
                "",
                &pick(|f| f.loads),
                None,
            );
            report.figure(
                &format!("{what}: dashboard p50"),
                "ms",
                &pick(|f| f.p50),
                None,
            );
            report.figure(
                &format!("{what}: dashboard p99"),
                "ms",
                &pick(|f| f.p99),
                None,
            );
            let ratios: Vec<f64> = floods.iter().map(|(f, idle)| f.p99 / idle).collect();
            let target = (*s == sizes[1])
                .then(|| Target::at_most(2.0, "≤ 2 × idle", median(&ratios)))
                .flatten();
            report.figure(&format!("{what}: p99 ÷ idle p99"), "×", &ratios, target);
            let cpu = pick(|f| f.cpu_ms_per_attempt);
            report.figure(&format!("{what}: server CPU per attempt"), "ms", &cpu, None);
            let peaks = pick(|f| f.peak_rss_mib);
            let target = Target::at_most(100.0, "≤ 100 MiB", median(&peaks));
            report.figure(&format!("{what}: peak RSS"), "MiB", &peaks, target);
            let rates: Vec<f64> = floods.iter().map(|(f, _)| *s as f64 / f.secs).collect();
            if Kind::ALL[*k] == Kind::Distinct {
                report.figure(&format!("{what}: sign-ins/s"), "/s", &rates, None);
                let share: Vec<f64> = rates.iter().map(|r| r / limit).collect();
                let target = Target::at_least(0.9, "≥ 0.9", median(&share));
                report.figure(&format!("{what}: sign-ins/s ÷ limit"), "×", &share, target);
                let share: Vec<f64> = rates.iter().map(|r| r / pool_limit).collect();
                let name = format!("{what}: sign-ins/s ÷ hashing threads' limit");
                report.figure(&name, "×", &share, None);
            } else {
                report.figure(&format!("{what}: attempts/s"), "/s", &rates, None);
            }
            let answered: Vec<String> = floods
                .iter()
                .map(|(f, _)| format!("{:?}", f.statuses))
                .collect();
            statuses.push(format!("{what}: {}", answered.join(", ")));
        }
        let target = Target::at_most(20.0, "≤ 20 MiB", median(&series.rss_idle));
        report.figure("RSS idle, 1 s after start", "MiB", &series.rss_idle, target);
        let target = Target::at_most(20.0, "≤ 20 MiB", median(&series.rss_rest));
        let rest = format!(
            "RSS at rest, {:.0} s after the last flood",
            AT_REST.as_secs_f64()
        );
        report.figure(&rest, "MiB", &series.rss_rest, target);
        report.figure(
            "peak RSS of the process (VmHWM)",
            "MiB",
            &series.vm_hwm,
            None,
        );
        report.figure(
            "sqlx slow-statement warnings in the log",
            "",
            &series.slow,
            None,
        );
        report.note(&format!(
            "Statuses answered (status: count), per repetition: {}. 0 = no answer within 60 s.",
            statuses.join("; ")
        ));
    }
}
