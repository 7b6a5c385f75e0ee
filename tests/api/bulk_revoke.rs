//! Bulk revocation across accounts: for each filter, the preview's count is what the run
//! then revokes, with one audit entry per account and one for the action.

use reqwest::StatusCode;

use crate::both_backends;
use mailkeys_test_support::prelude::*;

const BOB: &str = "bob@other.example";

/// alice (3 passwords: one old, one used from 203.0.113.9, one IMAP+SMTP) and bob (2: one
/// used from 198.51.100.1); and an admin signed in.
async fn breach_scene(backend: Backend) -> (TestApp, Browser) {
    let (app, alice) = app_with_alice(backend).await;
    let (_, old) = app.new_app_password(&alice, "Old").await;
    let (_, used) = app.new_app_password(&alice, "Used").await;
    alice
        .create_app_password_from(&[
            ("name", "Sender"),
            ("expires", "never"),
            ("scope", "imap+smtp"),
        ])
        .await;
    let bob = app.signed_in(BOB).await;
    let (_, bobs) = app.new_app_password(&bob, "Bob's phone").await;
    app.new_app_password(&bob, "Bob's laptop").await;
    let year_ago = app.clock_now() - 400 * 86_400;
    let set = |sql: &'static str, value: String, id: i64| {
        let pool = app.db.pool.clone();
        async move {
            sqlx::query(sql)
                .bind(value)
                .bind(id)
                .execute(&pool)
                .await
                .unwrap();
        }
    };
    sqlx::query("UPDATE app_passwords SET created_at = $1 WHERE id = $2")
        .bind(year_ago)
        .bind(old)
        .execute(&app.db.pool)
        .await
        .unwrap();
    set(
        "UPDATE app_passwords SET last_used_ip = $1 WHERE id = $2",
        "203.0.113.9".into(),
        used,
    )
    .await;
    set(
        "UPDATE app_passwords SET last_used_ip = $1 WHERE id = $2",
        "198.51.100.1".into(),
        bobs,
    )
    .await;
    sqlx::query("UPDATE app_passwords SET last_used_at = $1 WHERE last_used_ip IS NOT NULL")
        .bind(app.clock_now())
        .execute(&app.db.pool)
        .await
        .unwrap();
    let admin = app.signed_in_admin().await;
    (app, admin)
}

/// Follows a run's 303 to its job's page and reloads it (as its refresh does) until the job
/// is no longer running; returns that page.
pub(crate) async fn finished_job(admin: &Browser, run: reqwest::Response) -> String {
    assert_eq!(
        run.status(),
        StatusCode::SEE_OTHER,
        "a run answers with its job's page"
    );
    let path = location(&run).to_owned();
    let job = regex::Regex::new(r"^/admin/bulk-revoke/\d+$").unwrap();
    assert!(job.is_match(&path), "{path}");
    for _ in 0..400 {
        let page = admin.get_text(&path).await;
        if !page.contains("data-state=\"running\"") {
            return page;
        }
        assert!(
            page.contains("<meta http-equiv=\"refresh\""),
            "a running job's page refreshes"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the job at {path} still runs after 20 s");
}

/// A count of the job's page (`matched`, `revoked`, `accounts`, `batches`).
pub(crate) fn job_field(page: &str, field: &str) -> i64 {
    let re = regex::Regex::new(&format!(r#"<dd id="job-{field}">(\d+)"#)).unwrap();
    re.captures(page)
        .unwrap_or_else(|| panic!("job-{field} in {page}"))[1]
        .parse()
        .unwrap()
}

fn previewed(page: &str) -> i64 {
    let re = regex::Regex::new(r"(\d+) app passwords of \d+ accounts would be revoked").unwrap();
    re.captures(page).expect("a preview")[1].parse().unwrap()
}

/// The filter's fields, how many it should revoke, and what those are.
type Case = (&'static [(&'static str, &'static str)], i64, &'static str);

async fn each_filter_revokes_exactly_what_its_preview_counted(backend: Backend) {
    let cases: [Case; 5] = [
        (&[("created_before", "2020-01-01")], 0, "nothing that old"),
        (&[("used_from", "203.0.113.0/24")], 1, "alice's used one"),
        (&[("unused_days", "100")], 1, "alice's old one"),
        (&[("domain", "other.example")], 2, "bob's"),
        (&[("scope", "imap+smtp")], 1, "the sender"),
    ];
    for (filters, expected, what) in cases {
        let (app, admin) = breach_scene(backend).await;
        let query = serde_urlencoded::to_string(filters).unwrap();
        let page = admin
            .get_text(&format!("/admin/bulk-revoke?preview=1&{query}"))
            .await;
        let count = previewed(&page);
        assert_eq!(count, expected, "{what}: {filters:?}");
        let before = app.live_app_passwords().await;
        assert_eq!(before, 5, "a preview changes nothing");
        let mut form = filters.to_vec();
        form.push(("reason", "breach"));
        let run = admin
            .post("/admin/bulk-revoke", "/admin/bulk-revoke", &form)
            .await;
        let text = finished_job(&admin, run).await;
        assert!(text.contains("data-state=\"done\""), "{what}: {text}");
        assert!(
            text.contains(&format!("{count} app passwords of")),
            "{what}: {text}"
        );
        assert_eq!(
            job_field(&text, "matched"),
            count,
            "{what}: the count at the start"
        );
        assert_eq!(job_field(&text, "revoked"), count, "{what}");
        assert_eq!(app.live_app_passwords().await, before - count, "{what}");
        assert_eq!(
            app.count("SELECT COUNT(*) FROM audit_log WHERE event = 'bulk_revocation'")
                .await,
            1
        );
    }
}
both_backends!(each_filter_revokes_exactly_what_its_preview_counted);

async fn a_bulk_revocation_needs_a_filter_and_an_admin(backend: Backend) {
    let (app, admin) = breach_scene(backend).await;
    let page = admin.get("/admin/bulk-revoke?preview=1").await;
    assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = admin
        .post(
            "/admin/bulk-revoke",
            "/admin/bulk-revoke",
            &[("reason", "all")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.live_app_passwords().await, 5);
    let alice = app.browser();
    alice.sign_in(ALICE, PASSWORD).await;
    assert_eq!(
        alice.get_status("/admin/bulk-revoke").await,
        StatusCode::NOT_FOUND
    );
    // One entry per account touched, as for a revoke-all.
    let form = [("domain", "example.org"), ("reason", "breach")];
    let run = admin
        .post("/admin/bulk-revoke", "/admin/bulk-revoke", &form)
        .await;
    finished_job(&admin, run).await;
    app.assert_audited(ALICE, "all_app_passwords_revoked").await;
    assert_eq!(app.live_app_passwords().await, 2, "bob's stay");
}
both_backends!(a_bulk_revocation_needs_a_filter_and_an_admin);

/// Inserts `n` live app passwords for `user` directly (no hashing: they are never used to
/// log in here), so that a run needs several batches.
async fn many_app_passwords(app: &TestApp, user: i64, n: usize) {
    let mut tx = app.db.begin().await.unwrap();
    for i in 0..n {
        sqlx::query(
            "INSERT INTO app_passwords (user_id, name, lookup_id, password_hash, created_at) \
             VALUES ($1, $2, $3, 'x', $4)",
        )
        .bind(user)
        .bind(format!("bulk {i}"))
        .bind(format!("bk{i:06}"))
        .bind(app.clock_now())
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn a_run_is_a_job_whose_final_counts_equal_the_dry_run(backend: Backend) {
    let (app, admin) = breach_scene(backend).await;
    let bob = app.user_id(BOB).await;
    many_app_passwords(&app, bob, 1_100).await;
    let page = admin
        .get_text("/admin/bulk-revoke?preview=1&domain=other.example")
        .await;
    let count = previewed(&page);
    assert_eq!(count, 1_102);
    let form = [("domain", "other.example"), ("reason", "breach")];
    let run = admin
        .post("/admin/bulk-revoke", "/admin/bulk-revoke", &form)
        .await;
    let done = finished_job(&admin, run).await;
    assert_eq!(job_field(&done, "matched"), count);
    assert_eq!(job_field(&done, "revoked"), count);
    assert_eq!(job_field(&done, "accounts"), 1);
    assert_eq!(job_field(&done, "batches"), 3, "batches of at most 500");
    assert!(
        done.contains("1102 app passwords of 1 accounts were revoked"),
        "{done}"
    );
    assert!(
        !done.contains("http-equiv=\"refresh\""),
        "a finished job's page stays"
    );
    assert_eq!(app.live_app_passwords().await, 3, "alice's stay");
    // One entry per account per batch it was in, and one for the action.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE event = 'all_app_passwords_revoked'")
            .await,
        3
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE event = 'bulk_revocation'")
            .await,
        1
    );
    let alice = app.signed_in("carol@example.org").await;
    assert_eq!(
        alice.get_status("/admin/bulk-revoke/1").await,
        StatusCode::NOT_FOUND,
        "admins only"
    );
    assert_eq!(
        admin.get_status("/admin/bulk-revoke/999").await,
        StatusCode::NOT_FOUND
    );
}
both_backends!(a_run_is_a_job_whose_final_counts_equal_the_dry_run);

/// A job row as a process left it.
async fn job_row(app: &TestApp, matched: i64, revoked: i64, updated_at: i64) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO bulk_jobs (filter, reason, state, matched, revoked, accounts, batches, \
                                started_at, updated_at) \
         VALUES ('of @example.org', 'breach', 'running', $1, $2, 7, 1, $3, $3) RETURNING id",
    )
    .bind(matched)
    .bind(revoked)
    .bind(updated_at)
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

async fn a_running_jobs_page_shows_its_progress_and_a_lost_one_is_interrupted(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.signed_in_admin().await;
    let now = app.clock_now();
    let id = job_row(&app, 1000, 500, now).await;
    let page = admin.get_text(&format!("/admin/bulk-revoke/{id}")).await;
    assert!(page.contains("data-state=\"running\""));
    assert!(
        page.contains("Revoking: 500 of 1000 app passwords so far"),
        "{page}"
    );
    assert!(page.contains(r#"<progress id="job-progress" max="1000" value="500""#));
    assert!(
        page.contains("<meta http-equiv=\"refresh\" content=\"2\">"),
        "{page}"
    );
    assert_eq!(job_field(&page, "accounts"), 7);
    assert_eq!(job_field(&page, "batches"), 1);

    // No progress for longer than a batch could take: its process is gone.
    app.clock
        .advance(mailkeys::services::bulk_jobs::STALE_SECS + 1);
    let page = admin.get_text(&format!("/admin/bulk-revoke/{id}")).await;
    assert!(page.contains("data-state=\"interrupted\""), "{page}");
    assert!(page.contains("Interrupted: 500 of 1000 app passwords were revoked"));
    assert!(!page.contains("http-equiv=\"refresh\""));

    // A process starting on the database marks such jobs, and leaves live ones alone.
    let lost = job_row(&app, 10, 5, now - 1_000).await;
    let live = job_row(&app, 10, 0, app.clock_now()).await;
    let second = spawn_app_on(
        tempfile::tempdir().unwrap(),
        app.database_url.clone(),
        |_| {},
    )
    .await;
    let state = |id: i64| {
        sqlx::query_scalar::<_, String>("SELECT state FROM bulk_jobs WHERE id = $1")
            .bind(id)
            .fetch_one(&second.db.pool)
    };
    assert_eq!(state(lost).await.unwrap(), "interrupted");
    assert_eq!(state(live).await.unwrap(), "running");
}
both_backends!(a_running_jobs_page_shows_its_progress_and_a_lost_one_is_interrupted);
