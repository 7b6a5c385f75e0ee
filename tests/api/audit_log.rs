//! Admin → Audit log: filters, pages, exports parsed back to the stored rows, the command
//! line export as the README gives it, and retention by the one audited cleanup.

use reqwest::StatusCode;
use serde_json::Value;

use crate::both_backends;
use crate::cli::mailkeys;
use mailkeys_test_support::prelude::*;

/// id, at, event, actor, subject, ip, detail.
type StoredRow = (
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

/// Every stored entry as the export promises it, oldest first.
async fn stored_rows(app: &TestApp) -> Vec<Value> {
    let rows: Vec<StoredRow> = sqlx::query_as(
        "SELECT l.id, l.at, l.event, a.email, s.email, l.ip, l.detail FROM audit_log l \
             LEFT JOIN users a ON a.id = l.actor_user_id \
             LEFT JOIN users s ON s.id = l.subject_user_id ORDER BY l.id",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(id, at, event, actor, subject, ip, detail)| {
            serde_json::json!({
                "id": id, "at": at, "event": event, "actor": actor,
                "subject": subject, "ip": ip, "detail": detail,
            })
        })
        .collect()
}

/// A parsed export row without its `time` (checked against `at` separately).
fn without_time(mut row: Value) -> Value {
    let time = row["time"].as_str().unwrap().to_owned();
    let at = row["at"].as_i64().unwrap();
    let parsed =
        time::OffsetDateTime::parse(&time, &time::format_description::well_known::Rfc3339).unwrap();
    assert_eq!(parsed.unix_timestamp(), at, "time and at agree");
    row.as_object_mut().unwrap().remove("time");
    row
}

fn parse_jsonl(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| without_time(serde_json::from_str(line).unwrap()))
        .collect()
}

fn parse_csv(text: &str) -> Vec<Value> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        ["id", "time", "at", "event", "actor", "subject", "ip", "detail"]
    );
    reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            let text = |i: usize| record.get(i).unwrap().to_owned();
            let optional = |i: usize| Some(text(i)).filter(|s| !s.is_empty());
            without_time(serde_json::json!({
                "id": text(0).parse::<i64>().unwrap(), "time": text(1),
                "at": text(2).parse::<i64>().unwrap(), "event": text(3),
                "actor": optional(4), "subject": optional(5), "ip": optional(6),
                "detail": text(7),
            }))
        })
        .collect()
}

async fn some_history(app: &TestApp, alice: &Browser) {
    let (_, id) = app.new_app_password(alice, "Phone").await;
    alice.revoke(id, r#"lost, "stolen" on the train"#).await;
    alice.create_app_password("Laptop").await;
}

async fn exports_parse_back_to_the_stored_rows(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    some_history(&app, &alice).await;
    let admin = app.signed_in_admin().await;
    let stored = stored_rows(&app).await;
    assert!(stored.len() >= 5, "{stored:?}");

    let jsonl = admin.get("/admin/audit/export?format=jsonl").await;
    assert_eq!(jsonl.status(), StatusCode::OK);
    assert!(jsonl.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("mailkeys-audit.jsonl"));
    assert_eq!(parse_jsonl(&jsonl.text().await.unwrap()), stored);
    let csv = admin.get_text("/admin/audit/export?format=csv").await;
    assert_eq!(parse_csv(&csv), stored);

    // The command from the README, as written there.
    let (ok, out, err) = mailkeys(&app, &["audit", "export", "--format", "jsonl"], "");
    assert!(ok, "{err}");
    let from_cli = parse_jsonl(&out);
    assert_eq!(
        from_cli[..stored.len()],
        stored[..],
        "the web reads added none before"
    );
    let readme = "audit export --since 2026-01-01 --account alice@example.org --format csv";
    let (ok, out, err) = mailkeys(&app, &readme.split(' ').collect::<Vec<_>>(), "");
    assert!(ok, "{err}");
    let alices: Vec<Value> = stored
        .iter()
        .filter(|r| r["subject"] == ALICE)
        .cloned()
        .collect();
    assert!(alices.len() >= 4);
    assert_eq!(parse_csv(&out), alices);

    // A filtered export holds exactly the filtered rows.
    let revoked: Vec<Value> = stored
        .iter()
        .filter(|r| r["event"] == "app_password_revoked")
        .cloned()
        .collect();
    assert_eq!(revoked.len(), 1);
    let filtered = admin
        .get_text(&format!(
            "/admin/audit/export?format=jsonl&event=app_password_revoked&account={ALICE}"
        ))
        .await;
    assert_eq!(parse_jsonl(&filtered), revoked);
}
both_backends!(exports_parse_back_to_the_stored_rows);

async fn the_audit_page_filters_and_pages(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    some_history(&app, &alice).await;
    let bob = app.signed_in("bob@example.org").await;
    bob.create_app_password("Tablet").await;
    let admin = app.signed_in_admin().await;

    let all = admin.get_text("/admin/audit").await;
    assert!(all.contains(ALICE) && all.contains("bob@example.org"));
    let only_bob = admin
        .get_text("/admin/audit?account=bob%40example.org")
        .await;
    assert!(
        only_bob.contains("Tablet") && !only_bob.contains("Laptop"),
        "{only_bob}"
    );
    let revocations = admin
        .get_text("/admin/audit?event=app_password_revoked")
        .await;
    assert!(revocations.contains("on the train") && !revocations.contains("Tablet"));
    let nobody = admin.get("/admin/audit?account=nobody%40example.org").await;
    assert_eq!(nobody.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(nobody
        .text()
        .await
        .unwrap()
        .contains("there is no account nobody@example.org"));
    let future = admin.get_text("/admin/audit?since=2999-01-01").await;
    assert!(future.contains("No entries match."));

    // 150 more entries: the first page holds 100, "Older entries" the rest, no overlap.
    for n in 0..150 {
        sqlx::query("INSERT INTO audit_log (at, event, detail) VALUES ($1, 'sign_out', $2)")
            .bind(app.clock_now())
            .bind(format!("filler {n:03}"))
            .execute(&app.db.pool)
            .await
            .unwrap();
    }
    let first = admin.get_text("/admin/audit?event=sign_out").await;
    let ids = |page: &str| -> Vec<String> {
        regex::Regex::new(r#"id="entry-(\d+)""#)
            .unwrap()
            .captures_iter(page)
            .map(|c| c[1].to_owned())
            .collect()
    };
    assert_eq!(ids(&first).len(), 100);
    let older = regex::Regex::new(r#"href="(/admin/audit\?[^"]*before=\d+)""#)
        .unwrap()
        .captures(&first)
        .map(|c| href(&c[1]))
        .expect("a link to older entries");
    let second = admin.get_text(&older).await;
    let (a, b) = (ids(&first), ids(&second));
    assert_eq!(b.len(), 50, "the rest");
    assert!(a.iter().all(|id| !b.contains(id)));

    assert_eq!(
        alice.get_status("/admin/audit").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        alice.get_status("/admin/audit/export?format=csv").await,
        StatusCode::NOT_FOUND
    );
}
both_backends!(the_audit_page_filters_and_pages);

async fn retention_deletes_old_entries_through_the_one_audited_cleanup(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    some_history(&app, &alice).await;
    let now = app.clock_now();
    for days in [40, 400] {
        sqlx::query("INSERT INTO audit_log (at, event, detail) VALUES ($1, 'sign_out', 'old')")
            .bind(now - days * 86_400)
            .execute(&app.db.pool)
            .await
            .unwrap();
    }
    let before = app.count("SELECT COUNT(*) FROM audit_log").await;
    let refused = sqlx::query("DELETE FROM audit_log WHERE detail = 'old'")
        .execute(&app.db.pool)
        .await;
    assert!(refused.is_err(), "the application cannot delete");

    let (ok, out, err) = run_mailkeys(
        |c| {
            c.args(["audit", "clean-up"])
                .env("DATABASE_URL", &app.database_url)
                .env("MAILKEYS_AUDIT_RETENTION_DAYS", "30");
        },
        "",
    );
    assert!(
        ok && out.contains("Deleted 2 audit entries older than 30 days"),
        "{out}{err}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE detail = 'old'")
            .await,
        0
    );
    let cleaned: Vec<String> =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE event = 'audit_log_cleaned_up'")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(cleaned.len(), 1);
    assert!(
        cleaned[0].starts_with("2 entries from before"),
        "{cleaned:?}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log").await,
        before - 2 + 1
    );
    let still_refused = sqlx::query("DELETE FROM audit_log")
        .execute(&app.db.pool)
        .await;
    assert!(still_refused.is_err(), "the cleanup left deletion closed");
    let allowed: i64 = sqlx::query_scalar("SELECT allowed_before FROM audit_cleanup")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(allowed, 0);
}
both_backends!(retention_deletes_old_entries_through_the_one_audited_cleanup);

async fn a_starting_service_cleans_up_the_audit_log_on_its_own(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = app.clock_now();
    sqlx::query("INSERT INTO audit_log (at, event, detail) VALUES ($1, 'sign_out', 'old')")
        .bind(now - 400 * 86_400)
        .execute(&app.db.pool)
        .await
        .unwrap();
    // A second instance starting on the same database, with the default retention (365
    // days): nobody runs the command, the service trims the log as it starts.
    let url = app.database_url.clone();
    let second = spawn_app_on(tempfile::tempdir().unwrap(), url, |_| {}).await;
    assert_eq!(second.settings.audit_retention_days, 365);
    let mut left = 1;
    for _ in 0..100 {
        left = app
            .count("SELECT COUNT(*) FROM audit_log WHERE detail = 'old'")
            .await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        left, 0,
        "the 400-day-old entry is gone within 10 s of start-up"
    );
    app.assert_audited_anywhere("audit_log_cleaned_up").await;
}
both_backends!(a_starting_service_cleans_up_the_audit_log_on_its_own);
