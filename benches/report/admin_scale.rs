//! The admin side at 100,000 accounts and 1,000,000 app passwords (issue 11's benchmark), on
//! the database and server `scale` set up: account search, a user's page, the preview of a
//! bulk revocation, audit export over the web and from the command line; then the bulk
//! revocation itself (`bulk_scale`). A superadmin is added, and audit entries are seeded with
//! `INSERT … SELECT generate_series` so that the export has rows to write.

use std::time::{Duration, Instant};

use mailkeys::store::{users, Db};
use mailkeys_test_support::browser::Browser;
use sqlx::Connection as _;

use super::common::{cfg, quantile_ms, real_main_hash, secs, signed_in, size, Server};
use super::record::Report;
use super::scale::unix_now;

pub const ADMIN: &str = "admin@example.org";

/// A number in `0..n` drawn from `seed` (splitmix64): each repetition asks for other
/// accounts, every run for the same ones.
pub fn pick(seed: usize, n: usize) -> usize {
    let mut z = (seed as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) % n.max(1) as u64) as usize
}

/// `rows` audit entries about the accounts, one a minute up to now, of four kinds.
async fn seed_audit(url: &str, rows: usize, accounts: usize) -> f64 {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let started = Instant::now();
    sqlx::query(
        "INSERT INTO audit_log (at, actor_user_id, subject_user_id, event, detail, ip) \
         SELECT $1 - ($2 - g) * 60, u, u, \
                (ARRAY['sign_in', 'app_password_created', 'sign_in_failed', \
                       'app_password_revoked'])[1 + g % 4], \
                '“device ' || (1 + g % 9) || '” (starts with a0000' || (1 + g % 9) || ')', \
                '198.51.100.' || (1 + g % 250) \
         FROM generate_series(1, $2) g CROSS JOIN LATERAL (SELECT 1 + g % $3 AS u) x",
    )
    .bind(unix_now())
    .bind(rows as i64)
    .bind(accounts as i64)
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::raw_sql("ANALYZE audit_log")
        .execute(&mut conn)
        .await
        .unwrap();
    started.elapsed().as_secs_f64()
}

/// GETs `path(i)` for `i` in `0..runs`, one after the other, for at most `limit`; each
/// answer must be 200 and pass `check`. The times (to the last byte) and body sizes.
async fn timed_gets(
    browser: &Browser,
    runs: usize,
    limit: Duration,
    path: impl Fn(usize) -> String,
    check: impl Fn(usize, &str) -> bool,
) -> (Vec<Duration>, Vec<f64>) {
    let deadline = Instant::now() + limit;
    let (mut times, mut sizes) = (Vec::new(), Vec::new());
    for i in 0..runs {
        if Instant::now() > deadline {
            break;
        }
        let p = path(i);
        let started = Instant::now();
        let response = browser.get(&p).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        times.push(started.elapsed());
        assert_eq!(status, 200, "GET {p}");
        assert!(check(i, &body), "GET {p}: not the expected page:\n{body}");
        sizes.push(body.len() as f64);
    }
    (times, sizes)
}

/// p50, p99 and the median response size of `runs` GETs per repetition.
async fn latency(
    report: &mut Report,
    name: &str,
    browser: &Browser,
    runs: usize,
    path: impl Fn(usize) -> String,
    check: impl Fn(usize, &str) -> bool,
) -> Vec<f64> {
    let (mut p50, mut p99, mut kib) = (Vec::new(), Vec::new(), Vec::new());
    for rep in 0..cfg().reps {
        let base = rep * 100_003;
        let (mut times, sizes) = timed_gets(
            browser,
            runs,
            secs(120.0, 30.0),
            |i| path(base + i),
            |i, body| check(base + i, body),
        )
        .await;
        p50.push(quantile_ms(&mut times, 0.5));
        p99.push(quantile_ms(&mut times, 0.99));
        kib.push(super::record::median(&sizes) / 1024.0);
    }
    report.figure(&format!("{name}: p50"), "ms", &p50, None);
    report.figure(&format!("{name}: p99"), "ms", &p99, None);
    report.figure(&format!("{name}: response size"), "KiB", &kib, None);
    p99
}

fn lists_rows(body: &str) -> bool {
    body.contains("<td class=\"name\"><a href=\"/admin/users/")
}

pub async fn admin_scale(report: &mut Report, server: &Server, accounts: usize) {
    let runs = size(200, 20);
    let audit_rows = size(200_000, 20_000);
    let db = Db::connect(&server.db_url).await.unwrap();
    let hash = real_main_hash();
    let admin_user = users::NewUser {
        email: ADMIN,
        password_hash: &hash,
        is_admin: true,
        is_superadmin: true,
        main_imap_allowed: false,
        now: unix_now(),
    };
    users::insert(&db.pool, admin_user).await.unwrap();
    db.pool.close().await;
    let audit_secs = seed_audit(&server.db_url, audit_rows, accounts).await;
    let (admin, _) = signed_in(&server.base, ADMIN).await;

    report.section(
        "Admin side at scale: search, a user's page, bulk preview",
        &format!(
            "The same database ({accounts} accounts, {} app passwords) and a release \
             `mailkeys serve` on it, with a superadmin signed in from loopback. Each \
             repetition: {runs} GETs one after another, each for a different account chosen \
             by a fixed pseudo-random sequence (the same in every run, another in each \
             repetition), timed to the last byte of the page; p50/p99 of those, and the \
             median page size. Prefix: `/admin?q=scaleN` for a random N (from one to \
             about 11,000 accounts match, fifty a page); substring: `/admin?q=N` (N's digits anywhere in \
             the address); no match: `/admin?q=zzN` (the search reads every address); \
             keyset: `/admin?after=scaleN@example.org`, a page that continues the address \
             order from a random account; by activity: `/admin?sort=activity&after=T.ID`, a \
             page continued from a random time of the last day. A user's page: \
             `/admin/users/ID` of a random account (its ten app passwords and recent \
             activity). Each GET's page is checked (rows listed, or \"No account matches\").",
            accounts * super::scale::PER_ACCOUNT
        ),
    );
    let prefix = |i: usize| 1 + pick(i, accounts);
    let mut search_p99 = latency(
        report,
        "account search by prefix",
        &admin,
        runs,
        |i| format!("/admin?q=scale{}", prefix(i)),
        |i, body| body.contains(&format!(">scale{}", prefix(i))),
    )
    .await;
    let digits = |i: usize| 10 + pick(i + 7, accounts - 10);
    search_p99.extend(
        latency(
            report,
            "account search by substring",
            &admin,
            runs,
            |i| format!("/admin?q={}", digits(i)),
            |_, body| lists_rows(body),
        )
        .await,
    );
    search_p99.extend(
        latency(
            report,
            "account search matching nothing",
            &admin,
            runs,
            |i| format!("/admin?q=zz{}", pick(i, accounts)),
            |_, body| body.contains("No account matches."),
        )
        .await,
    );
    latency(
        report,
        "account list, a page deep in the keyset (by address)",
        &admin,
        runs,
        |i| format!("/admin?after=scale{}%40example.org", prefix(i)),
        |_, body| lists_rows(body),
    )
    .await;
    let now = unix_now();
    latency(
        report,
        "account list by last activity, a page deep in the keyset",
        &admin,
        runs,
        |i| {
            let at = now - 600 - pick(i, 80_000) as i64;
            format!("/admin?sort=activity&after={at}.{}", accounts + 1)
        },
        |_, body| lists_rows(body),
    )
    .await;
    let ids: (i64, i64) = {
        let mut conn = sqlx::PgConnection::connect(&server.db_url).await.unwrap();
        sqlx::query_as("SELECT MIN(id), MAX(id) FROM users WHERE email LIKE 'scale%'")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    let span = (ids.1 - ids.0 + 1) as usize;
    let user_p99 = latency(
        report,
        "a user's page",
        &admin,
        runs,
        |i| format!("/admin/users/{}", ids.0 + pick(i, span) as i64),
        |_, body| body.contains("device 1"),
    )
    .await;
    preview_cidr(report, &admin, accounts).await;
    search_plan(report, &server.db_url).await;
    let worst = worst_median(&search_p99, cfg().reps);
    report.note(&format!(
        "**Answer (issue 11): search {} at {accounts} accounts**: account search p99 \
         {worst:.1} ms (the worst of prefix, substring and no match, each the median of \
         its repetitions); a user's page p99 {:.1} ms; from loopback, on the server's own \
         cores.",
        if worst <= 100.0 {
            "stays fast (p99 under 100 ms)"
        } else {
            "is slow (p99 over 100 ms)"
        },
        super::record::median(&user_p99),
    ));

    super::audit_export::audit_export(report, server, &admin, audit_rows, audit_secs).await;
    super::bulk_scale::bulk(report, server, &admin, accounts).await;
}

/// The plan of the search's query (the form `store::account_search::page` sends, with its
/// columns shortened) for a substring, shown so that a scan is visible in the report.
async fn search_plan(report: &mut Report, url: &str) {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let rows: Vec<String> = sqlx::query_scalar(
        "EXPLAIN (ANALYZE, BUFFERS) SELECT id, email, last_activity_at FROM users \
         WHERE email LIKE '%4242%' ESCAPE '\\' ORDER BY email LIMIT 51",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let plan = rows.join("\n");
    report.block("Plan of the account search (`q=4242`)", &plan);
    if plan.contains("Seq Scan on users") {
        report.note(
            "The search reads every address (`LIKE '%…%'` cannot use the B-tree index on \
             `email`): its time grows with the number of accounts. A trigram index \
             (PostgreSQL's `pg_trgm`, a migration) would make it independent of that size.",
        );
    }
}

/// The highest median among groups of `reps` values (one group per kind of search).
fn worst_median(values: &[f64], reps: usize) -> f64 {
    values
        .chunks(reps.max(1))
        .map(super::record::median)
        .fold(0.0, f64::max)
}

/// The dry run of a bulk revocation by address range: every used app password is read and
/// its address checked, one in fifty of the active accounts matches.
async fn preview_cidr(report: &mut Report, admin: &Browser, accounts: usize) {
    let expected = accounts / 50;
    let mut times = Vec::new();
    for _ in 0..cfg().reps {
        let started = Instant::now();
        let page = admin
            .get_text("/admin/bulk-revoke?preview=1&used_from=203.0.113.0%2F24")
            .await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(
            page.contains(&format!(
                "{expected} app passwords of {expected} accounts would be revoked"
            )),
            "bulk preview by address range:\n{page}"
        );
    }
    report.figure(
        &format!("bulk revocation preview, last used from 203.0.113.0/24 ({expected} match)"),
        "ms",
        &times,
        None,
    );
}
