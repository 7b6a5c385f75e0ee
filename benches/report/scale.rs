//! PostgreSQL at scale: 100,000 accounts and 1,000,000 app passwords in a database of its
//! own (seeded with `INSERT … SELECT generate_series`, dropped afterwards): the time and
//! plan of Dovecot's two queries (which must use indexes), and the dashboard of one of those
//! accounts; then the admin side on the same database (`admin_scale`, `bulk_scale`).

use std::time::Instant;

use mailkeys::store::Db;
use mailkeys_test_support::app::Backend;
use sqlx::{Connection as _, Row as _};

use super::common::{argon2_hash, cfg, quantile_ms, real_main_hash, signed_in, size, Server};
use super::hashing::profiles;
use super::record::Report;

pub const PER_ACCOUNT: usize = 10;

/// The `k`-th app password of every account was created `k - 1` years after this
/// (2017-01-01), so that "created before" picks one app password per account, a different
/// one for each repetition of the bulk revocation (`bulk_scale`).
pub const CREATED_BASE: i64 = 1_483_228_800;
pub const YEAR: i64 = 365 * 86_400;

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Dovecot's queries as the shipped configuration sends them (templates/dovecot), with the
/// user and the first six characters of the typed password filled in.
fn queries(user: &str, lookup: &str) -> [(&'static str, String); 4] {
    let hex: String = lookup.bytes().map(|b| format!("{b:02x}")).collect();
    let app = |cond: String| {
        format!(
            "SELECT username AS user, password, allowed_nets AS allow_nets, credential_id \
             FROM dovecot_app_passwords WHERE username = '{user}' AND {cond} \
             AND ('imap' = 'imap' OR (scope = 'imap+smtp' AND 'imap' IN ('smtp', 'submission')))"
        )
    };
    let main = |cond: String| {
        format!(
            "SELECT username AS user, password FROM dovecot_main_passwords \
             WHERE username = '{user}' AND 'imap' = 'imap' AND NOT EXISTS (SELECT 1 FROM \
             dovecot_lookup_ids WHERE username = '{user}' AND {cond})"
        )
    };
    let v23 = format!("lookup_id = '{lookup}'");
    let v24 = format!("encode(convert_to(lookup_id, 'UTF8'), 'hex') = '{hex}'");
    [
        ("2.3 passdb 1 (app passwords)", app(v23.clone())),
        ("2.3 passdb 2 (main password)", main(v23)),
        ("2.4 passdb 1 (app passwords)", app(v24.clone())),
        ("2.4 passdb 2 (main password)", main(v24)),
    ]
}

async fn seed(url: &str, accounts: usize) -> f64 {
    let db = Db::connect(url).await.unwrap();
    db.migrate().await.unwrap();
    db.pool.close().await;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let app = profiles()[1];
    let app_hash = argon2_hash("unused app password", app.m, app.t, app.p);
    let started = Instant::now();
    let now = unix_now();
    // One account in five was active in the last day (the admin list sorts by it).
    sqlx::query(
        "INSERT INTO users (email, password_hash, created_at, password_changed_at, last_activity_at) \
         SELECT 'scale' || g || '@example.org', $1, 0, 0, \
                CASE WHEN g % 5 = 0 THEN $3 - g % 86400 ELSE 0 END \
         FROM generate_series(1, $2) g",
    )
    .bind(real_main_hash())
    .bind(accounts as i64)
    .bind(now)
    .execute(&mut conn)
    .await
    .unwrap();
    // Ten per account, the tenth revoked (revoked rows stay, as in production); the ninth of
    // those active accounts used in the last day, from 198.51.100.x, or for one account in
    // fifty from 203.0.113.x (the "breach" range the bulk preview looks for).
    sqlx::query(
        "INSERT INTO app_passwords (user_id, name, lookup_id, password_hash, created_at, \
                                    revoked_at, last_used_at, last_used_ip, last_used_protocol) \
         SELECT u.id, 'device ' || k, 'a' || lpad(k::text, 5, '0'), $1, $3 + (k - 1) * $4, \
                CASE WHEN k = $2 THEN $5 END, \
                CASE WHEN used THEN u.last_activity_at END, \
                CASE WHEN used THEN (CASE WHEN u.id % 50 = 0 THEN '203.0.113.' ELSE '198.51.100.' END) \
                                    || (1 + u.id % 250) END, \
                CASE WHEN used THEN 'imap' END \
         FROM users u CROSS JOIN generate_series(1, $2) k \
         CROSS JOIN LATERAL (SELECT k = $2 - 1 AND u.last_activity_at > 0 AS used) x",
    )
    .bind(app_hash)
    .bind(PER_ACCOUNT as i32)
    .bind(CREATED_BASE)
    .bind(YEAR)
    .bind(CREATED_BASE + 9 * YEAR + 86_400)
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::raw_sql("ANALYZE").execute(&mut conn).await.unwrap();
    started.elapsed().as_secs_f64()
}

pub async fn scale(report: &mut Report) {
    let accounts = size(100_000, 10_000);
    let runs = size(200, 20);
    let dir = tempfile::tempdir().unwrap();
    let url = super::common::fresh_database(Backend::Postgres, dir.path()).await;
    let seed_secs = seed(&url, accounts).await;
    report.section(
        "PostgreSQL at scale",
        &format!(
            "A database of its own with {accounts} accounts and {} app passwords ({PER_ACCOUNT} \
             per account, one of them revoked; the k-th created in 2016 + k; one account in five \
             active in the last day through its ninth, with an address), seeded by \
             `INSERT … SELECT generate_series` in {seed_secs:.1} s, then `ANALYZE`; dropped afterwards. Queries: Dovecot's two \
             passdb queries in each version's form, for accounts spread over the table, sent \
             as text over one connection like Dovecot's; each repetition the median of {runs}. \
             Dashboard: one of these accounts (10 app passwords shown), {runs} loads one after \
             another per repetition.",
            accounts * PER_ACCOUNT
        ),
    );
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let user_of = |i: usize| format!("scale{}@example.org", 1 + (i * 7919) % accounts);
    for (q, (name, _)) in queries("", "").iter().enumerate() {
        let mut per_rep = Vec::new();
        for rep in 0..cfg().reps {
            let mut times = Vec::new();
            for i in 0..runs {
                let lookup = format!("a{:05}", 1 + i % PER_ACCOUNT);
                let sql = queries(&user_of(rep * runs + i), &lookup)[q].1.clone();
                let started = Instant::now();
                sqlx::raw_sql(&sql).fetch_all(&mut conn).await.unwrap();
                times.push(started.elapsed());
            }
            per_rep.push(quantile_ms(&mut times, 0.5));
        }
        report.figure(&format!("Dovecot {name}: round trip"), "ms", &per_rep, None);
    }
    for (name, sql) in queries(&user_of(4242), "a00003") {
        let rows = sqlx::raw_sql(&format!("EXPLAIN (ANALYZE, BUFFERS) {sql}"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        let plan: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
        let plan = plan.join("\n");
        assert_indexed(name, &plan);
        report.block(&format!("Plan of Dovecot {name}"), &plan);
    }
    report.note(
        "Every plan above was checked by the benchmark: no sequential scan of `users` or \
         `app_passwords` (it stops otherwise).",
    );
    drop(conn);

    let server = Server::start_on(dir, url, &[]).await;
    let (viewer, _) = signed_in(&server.base, &user_of(77)).await;
    let (mut p50, mut p99) = (Vec::new(), Vec::new());
    for _ in 0..cfg().reps {
        let mut times = Vec::new();
        for _ in 0..runs {
            let started = Instant::now();
            assert_eq!(viewer.get("/").await.status(), 200);
            times.push(started.elapsed());
        }
        p50.push(quantile_ms(&mut times, 0.5));
        p99.push(quantile_ms(&mut times, 0.99));
    }
    report.figure("dashboard p50", "ms", &p50, None);
    report.figure("dashboard p99", "ms", &p99, None);
    drop(viewer);
    super::admin_scale::admin_scale(report, &server, accounts).await;
    server.stop().await;
}

/// Stops the benchmark when `plan` reads `users` or `app_passwords` sequentially: at this
/// size Dovecot's lookups must find their rows through an index.
pub fn assert_indexed(name: &str, plan: &str) {
    for table in ["users", "app_passwords"] {
        assert!(
            !plan.contains(&format!("Seq Scan on {table}")),
            "{name}: a sequential scan of {table} at scale:\n{plan}"
        );
    }
}
