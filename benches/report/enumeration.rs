//! User enumeration through sign-in timing: unknown accounts, disabled accounts and wrong
//! passwords, interleaved; statuses, body lengths and median times side by side.

use std::collections::BTreeSet;
use std::time::Duration;

use mailkeys_test_support::app::Backend;

use super::common::{browser_from, cfg, quantile_ms, real_main_hash, seed, size, Server, PASSWORD};
use super::record::Report;

const KINDS: [&str; 3] = ["unknown account", "disabled account", "wrong password"];

pub async fn enumeration(report: &mut Report) {
    let n = size(300, 20);
    report.section(
        "User enumeration",
        &format!(
            "{n} sign-ins of each kind per repetition, interleaved so that drift hits the three \
             alike, each from its own loopback address (127.2.x.y), SQLite, default costs. Difference: the kind's median minus the wrong \
             password's, per repetition."
        ),
    );
    let hash = real_main_hash();
    let mut medians: [Vec<f64>; 3] = Default::default();
    let mut diffs: [Vec<f64>; 3] = Default::default();
    let mut statuses: [BTreeSet<u16>; 3] = Default::default();
    let mut bodies: [BTreeSet<usize>; 3] = Default::default();
    for _ in 0..cfg().reps {
        let server = Server::start(Backend::Sqlite, &[]).await;
        let db = server.db().await;
        seed(&db, "known", n, &hash).await;
        seed(&db, "disabled", n, &hash).await;
        sqlx::query("UPDATE users SET disabled = TRUE WHERE email LIKE 'disabled%'")
            .execute(&db.pool)
            .await
            .unwrap();
        db.pool.close().await;
        let mut times: [Vec<Duration>; 3] = Default::default();
        for i in 0..n {
            let tries = [
                (format!("unknown{i}@example.org"), "wrong password"),
                (format!("disabled{i}@example.org"), PASSWORD),
                (format!("known{i}@example.org"), "wrong password"),
            ];
            for (kind, (email, password)) in tries.into_iter().enumerate() {
                // Each from its own address, so that per-address limits stay out of it.
                let (response, took) = browser_from(&server.base, 2, i * 3 + kind)
                    .sign_in_timed(&email, password)
                    .await;
                statuses[kind].insert(response.status().as_u16());
                let body = response.text().await.unwrap();
                // The body echoes the typed address; its length differs by the digits only.
                bodies[kind].insert(body.replace(&email, "").len());
                times[kind].push(took);
            }
        }
        let m: Vec<f64> = times.iter_mut().map(|t| quantile_ms(t, 0.5)).collect();
        for kind in 0..3 {
            medians[kind].push(m[kind]);
            diffs[kind].push(m[kind] - m[2]);
        }
        server.stop().await;
    }
    for (kind, name) in KINDS.iter().enumerate() {
        report.figure(
            &format!("{name}: median sign-in"),
            "ms",
            &medians[kind],
            None,
        );
        if kind < 2 {
            report.figure(
                &format!("{name}: minus wrong password"),
                "ms",
                &diffs[kind],
                None,
            );
        }
    }
    let lines: Vec<String> = KINDS
        .iter()
        .enumerate()
        .map(|(k, name)| {
            format!(
                "{name}: statuses {:?}, body lengths without the address {:?}",
                statuses[k], bodies[k]
            )
        })
        .collect();
    report.note(&lines.join("; "));
}
