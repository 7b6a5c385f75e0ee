//! `wrk` on the sign-in page and the signed-in dashboard, SQLite and PostgreSQL.

use std::process::Command;

use mailkeys_test_support::app::Backend;

use super::common::{backend_name, cfg, real_main_hash, secs, seed, signed_in, Server};
use super::record::Report;

const THREADS: usize = 2;
const CONNECTIONS: usize = 16;

struct Run {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    bad: f64,
}

fn latency_ms(text: &str) -> f64 {
    let (number, unit) = text
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((text, "ms"), |i| text.split_at(i));
    let v: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => v / 1000.0,
        "s" => v * 1000.0,
        "m" => v * 60_000.0,
        _ => v,
    }
}

fn wrk(url: &str, cookie: Option<&str>) -> Run {
    let duration = format!("{}s", secs(10.0, 2.0).as_secs());
    let mut command = Command::new("wrk");
    command.args(["-t", &THREADS.to_string(), "-c", &CONNECTIONS.to_string()]);
    command.args(["-d", &duration, "--latency", "--timeout", "10s"]);
    if let Some(cookie) = cookie {
        command.args(["-H", &format!("Cookie: {cookie}")]);
    }
    let out = command
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("wrk: {e} (scripts/bench installs it)"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "wrk: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .map(|v| v.trim().to_owned())
    };
    Run {
        rps: field("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN),
        p50_ms: field("50%").map_or(f64::NAN, |v| latency_ms(&v)),
        p99_ms: field("99%").map_or(f64::NAN, |v| latency_ms(&v)),
        bad: field("Non-2xx or 3xx responses:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0),
    }
}

pub async fn wrk_part(report: &mut Report) {
    report.section(
        "Throughput (wrk)",
        &format!(
            "`wrk -t {THREADS} -c {CONNECTIONS} -d {}s --latency` from loopback against a \
             fresh `mailkeys serve` per repetition: GET `/sign-in` (anonymous, a CSRF cookie \
             each time) and GET `/` with a signed-in user's cookie. wrk shares the cores with \
             the server.",
            secs(10.0, 2.0).as_secs()
        ),
    );
    let hash = real_main_hash();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let mut runs: [Vec<Run>; 2] = Default::default();
        for _ in 0..cfg().reps {
            let server = Server::start(backend, &[]).await;
            let db = server.db().await;
            seed(&db, "wrk", 1, &hash).await;
            db.pool.close().await;
            let (_browser, cookie) = signed_in(&server.base, "wrk0@example.org").await;
            // The cookie alone must show the dashboard (not a redirect to the sign-in page).
            let status = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .get(format!("{}/", server.base))
                .header("Cookie", &cookie)
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 200, "the dashboard with the session cookie alone");
            let base = server.base.clone();
            let cookie2 = cookie.clone();
            let (sign_in, dashboard) = tokio::task::spawn_blocking(move || {
                (
                    wrk(&format!("{base}/sign-in"), None),
                    wrk(&format!("{base}/"), Some(&cookie2)),
                )
            })
            .await
            .unwrap();
            runs[0].push(sign_in);
            runs[1].push(dashboard);
            server.stop().await;
        }
        for (i, page) in ["sign-in page", "signed-in dashboard"].iter().enumerate() {
            let what = format!("{}, {page}", backend_name(backend));
            let pick = |f: fn(&Run) -> f64| runs[i].iter().map(f).collect::<Vec<_>>();
            report.figure(&format!("{what}: requests/s"), "/s", &pick(|r| r.rps), None);
            report.figure(
                &format!("{what}: latency p50"),
                "ms",
                &pick(|r| r.p50_ms),
                None,
            );
            report.figure(
                &format!("{what}: latency p99"),
                "ms",
                &pick(|r| r.p99_ms),
                None,
            );
            report.figure(
                &format!("{what}: non-2xx/3xx answers"),
                "",
                &pick(|r| r.bad),
                None,
            );
        }
    }
}
