//! Bulk revocation at scale: one app password of every account (100,000 at full size)
//! revoked through the admin's own form, while a second connection samples PostgreSQL's
//! `pg_stat_activity` every 10 ms for the longest open transaction (the longest time any row
//! lock can have been held) and another user loads their dashboard.
//!
//! The driver posts the form as the page does. Today the POST answers when the work is done
//! (200 with the result); should it become a background job that answers 303 to a progress
//! page, `finish` follows that page until it shows the result: adapt `DONE` there if the
//! wording changes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailkeys_test_support::browser::{location, Browser};
use regex::Regex;
use sqlx::{Connection as _, Row as _};

use super::admin_scale::pick;
use super::common::{cfg, dashboard_samples, quantile_ms, secs, Server, Viewer, PASSWORD};
use super::record::{median, Report};
use super::scale::{CREATED_BASE, PER_ACCOUNT, YEAR};

/// The result's heading on the page (web/admin_bulk.rs, templates/admin/bulk_revoke.page.html).
const DONE: &str = r"(\d+) app passwords of (\d+) accounts were revoked";

/// What the sampler saw during one run, in seconds from the POST.
#[derive(Default, Debug)]
struct Seen {
    /// The longest-open transaction that had written (holds row locks), in seconds: the
    /// revocation's batches, or any other writer meanwhile.
    longest_write: f64,
    /// The longest-open transaction or statement of any kind (reads included).
    longest_any: f64,
    /// The most backends waiting for a lock at one time.
    lock_waiters: i64,
    first_write: Option<f64>,
    last_write: Option<f64>,
    samples: usize,
}

/// Samples the server's connections every 10 ms until `stop`.
async fn sample(url: String, stop: Arc<AtomicBool>, since: Instant) -> Seen {
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut seen = Seen::default();
    while !stop.load(Ordering::SeqCst) {
        let row = sqlx::query(
            "SELECT \
               COALESCE(MAX(EXTRACT(EPOCH FROM clock_timestamp() - xact_start)) \
                 FILTER (WHERE backend_xid IS NOT NULL), -1)::float8, \
               COALESCE(MAX(EXTRACT(EPOCH FROM clock_timestamp() - xact_start)), 0)::float8, \
               COUNT(*) FILTER (WHERE wait_event_type = 'Lock'), \
               COALESCE(BOOL_OR(backend_xid IS NOT NULL AND (query LIKE 'UPDATE app_passwords%' \
                                OR query LIKE 'INSERT INTO audit_log%')), FALSE) \
             FROM pg_stat_activity WHERE datname = current_database() \
               AND pid <> pg_backend_pid() AND backend_type = 'client backend' \
               AND xact_start IS NOT NULL",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        let write: f64 = row.get(0);
        let at = since.elapsed().as_secs_f64();
        seen.longest_write = seen.longest_write.max(write);
        // A batch of the revocation (the dashboard's session touch writes too, elsewhere).
        if row.get::<bool, _>(3) {
            seen.first_write.get_or_insert(at);
            seen.last_write = Some(at);
        }
        seen.longest_any = seen.longest_any.max(row.get(1));
        seen.lock_waiters = seen.lock_waiters.max(row.get(2));
        seen.samples += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    seen
}

/// The result page of a run: the answer itself, or the progress page it redirects to,
/// followed until it shows the result. (total revoked, accounts).
async fn finish(admin: &Browser, response: reqwest::Response) -> (u64, u64) {
    let done = Regex::new(DONE).unwrap();
    let parse = |page: &str| {
        done.captures(page)
            .map(|c| (c[1].parse().unwrap(), c[2].parse().unwrap()))
    };
    if response.status() == 303 {
        let progress = location(&response).to_owned();
        let deadline = Instant::now() + secs(900.0, 120.0);
        loop {
            let page = admin.get_text(&progress).await;
            if let Some(result) = parse(&page) {
                return result;
            }
            assert!(
                Instant::now() < deadline,
                "no result at {progress}:\n{page}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let status = response.status();
    let page = response.text().await.unwrap();
    assert_eq!(status, 200, "bulk revocation:\n{page}");
    parse(&page).unwrap_or_else(|| panic!("no result on the page:\n{page}"))
}

/// "created before" the day after the `k`-th app passwords were created.
fn day_after(k: usize) -> String {
    let t = CREATED_BASE + (k as i64 - 1) * YEAR + 86_400;
    let date = time::OffsetDateTime::from_unix_timestamp(t).unwrap().date();
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

pub async fn bulk(report: &mut Report, server: &Server, admin: &Browser, accounts: usize) {
    // Each repetition revokes a fresh set: the k-th app password of every account.
    let reps = cfg().reps.min(PER_ACCOUNT - 1);
    let viewer_email = format!("scale{}@example.org", 1 + pick(4242, accounts));
    let viewer = Viewer::signed_in(&server.base, &viewer_email).await;
    report.section(
        "Bulk revocation at scale",
        &format!(
            "Each repetition revokes {accounts} app passwords, one of every account (a \
             different one each time: the filter is \"created before\" the day after the \
             k-th app passwords were made), by posting the admin's form \
             `/admin/bulk-revoke` as the page does and reading the result. The service \
             reads the matching ids, then revokes them in batches, each one transaction \
             with one audit entry per account, then writes one entry for the action and \
             asks Dovecot to end the accounts' sessions (doveadm is not configured here, so \
             that step only looks each account up). Meanwhile a second connection reads \
             `pg_stat_activity` every 10 ms: the longest transaction that had written (it \
             holds row locks until it ends; sampled, so a lower bound within about 10 ms), \
             the longest transaction or statement of any kind, and the most backends \
             waiting for a lock at once; the first and last time a batch was seen writing \
             (revoking app passwords or writing their audit entries) split the run into \
             reading, batches and the rest. Also meanwhile, \
             another user ({viewer_email}) loads the dashboard every 10 ms; its p99 idle \
             is measured the same way for {:.0} s before each repetition.",
            secs(5.0, 2.0).as_secs_f64()
        ),
    );
    let mut m: [Vec<f64>; 13] = Default::default();
    for rep in 0..reps {
        let stop_at = Instant::now() + secs(5.0, 2.0);
        let (mut idle, _) =
            dashboard_samples(&viewer, server.pid(), move || Instant::now() > stop_at).await;
        let idle_p99 = quantile_ms(&mut idle, 0.99);
        m[12].push(idle_p99);
        let created_before = day_after(rep + 1);
        let preview_started = Instant::now();
        let page = admin
            .get_text(&format!(
                "/admin/bulk-revoke?preview=1&created_before={created_before}"
            ))
            .await;
        m[0].push(preview_started.elapsed().as_secs_f64());
        assert!(
            page.contains(&format!(
                "{accounts} app passwords of {accounts} accounts would be revoked"
            )),
            "preview before {created_before}:\n{page}"
        );
        let csrf = admin.csrf("/admin/bulk-revoke").await;
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let sampler = tokio::spawn(sample(server.db_url.clone(), stop.clone(), started));
        let dashboard = {
            let (viewer, stop, pid) = (viewer.clone(), stop.clone(), server.pid());
            tokio::spawn(async move {
                dashboard_samples(&viewer, pid, move || stop.load(Ordering::SeqCst))
                    .await
                    .0
            })
        };
        let form = [
            ("csrf", csrf.as_str()),
            ("created_before", created_before.as_str()),
            ("used_from", ""),
            ("unused_days", ""),
            ("domain", ""),
            ("scope", ""),
            ("reason", "benchmark: bulk revocation at scale"),
            ("password", PASSWORD),
        ];
        let response = tokio::time::timeout(
            secs(900.0, 120.0),
            admin.post_raw("/admin/bulk-revoke", &form),
        )
        .await
        .expect("the bulk revocation answered in time");
        let (revoked, of_accounts) = finish(admin, response).await;
        let total = started.elapsed().as_secs_f64();
        stop.store(true, Ordering::SeqCst);
        let seen = sampler.await.unwrap();
        let mut during = dashboard.await.unwrap();
        assert_eq!(
            (revoked, of_accounts),
            (accounts as u64, accounts as u64),
            "revoked as previewed"
        );
        let first = seen.first_write.unwrap_or(0.0);
        let last = seen.last_write.unwrap_or(total);
        let p99 = quantile_ms(&mut during, 0.99);
        let values = [
            total,
            accounts as f64 / total,
            seen.longest_write * 1000.0,
            seen.longest_any * 1000.0,
            seen.lock_waiters as f64,
            first,
            last - first,
            total - last,
            quantile_ms(&mut during, 0.5),
            p99,
            p99 / idle_p99,
        ];
        for (list, v) in m[1..].iter_mut().zip(values) {
            list.push(v);
        }
        eprintln!(
            "bench: bulk revocation {}: {seen:?}, {} dashboard loads",
            rep + 1,
            during.len()
        );
    }
    let names = [
        ("preview (dry run) of the same filter", "s"),
        ("bulk revocation: total, POST to result", "s"),
        ("bulk revocation: app passwords revoked per second", "/s"),
        ("longest writing transaction (row locks held)", "ms"),
        ("longest transaction or statement of any kind", "ms"),
        ("backends waiting for a lock at once, most", ""),
        ("phase: reading the matching ids (to the first write)", "s"),
        ("phase: batches (first to last write seen)", "s"),
        (
            "phase: after the last batch (summary, per-account Dovecot step)",
            "s",
        ),
        ("another user's dashboard during the run: p50", "ms"),
        ("another user's dashboard during the run: p99", "ms"),
        ("dashboard p99 during ÷ idle", "×"),
        ("the same dashboard's p99, idle before the run", "ms"),
    ];
    for ((name, unit), values) in names.iter().zip(&m) {
        report.figure(name, unit, values, None);
    }
    let lock_ms = median(&m[3]);
    report.note(&format!(
        "**Answer (issue 11): bulk revocation of {accounts} app passwords** takes {:.1} s \
         through the web form; the longest transaction holding row locks was {lock_ms:.0} ms \
         (median of the repetitions' longest){}; another user's dashboard p99 during the \
         run was {:.1} ms against {:.1} ms idle. Of the total, {:.1} s come after the last \
         batch: the service then looks up each account and asks Dovecot about it, one \
         account after the other (with doveadm configured, a kick and a cache flush each).",
        median(&m[1]),
        if lock_ms <= 1000.0 {
            ", so no lock is held long"
        } else {
            ": locks are held for more than a second"
        },
        median(&m[10]),
        median(&m[12]),
        median(&m[8]),
    ));
}
