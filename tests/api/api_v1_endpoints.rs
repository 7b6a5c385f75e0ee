//! Each `/api/v1` endpoint doing what it says, checked in the database and the audit log:
//! search and pages, an account's app passwords, invitations, revoking one or all, the
//! compromise response, bulk revocation (the dry run's count is what the run's job revokes),
//! and
//! the audit log read and exported (parsed back to the same rows).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::api_v1::root_with_token;
use crate::both_backends;
use mailkeys_test_support::prelude::*;

async fn accounts_are_searched_filtered_and_paged(backend: Backend) {
    let (app, _alice) = app_with_alice(backend).await;
    let (_, api) = root_with_token(&app).await;
    for n in 0..52 {
        app.add_user(&format!("user{n:02}@bulk.example"), PASSWORD, false)
            .await;
    }
    let found = api.get_json("/api/v1/accounts?q=ALIC").await;
    let emails: Vec<&str> = found["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, [ALICE]);
    assert_eq!(found["accounts"][0]["role"], "user");
    assert_eq!(found["next_after"], Value::Null);

    let admins = api.get_json("/api/v1/accounts?filter=admins").await;
    assert_eq!(admins["accounts"][0]["email"], ROOT);
    assert_eq!(admins["accounts"][0]["role"], "superadmin");

    let first = api.get_json("/api/v1/accounts?q=bulk.example").await;
    assert_eq!(first["accounts"].as_array().unwrap().len(), 50);
    let after = first["next_after"].as_str().unwrap();
    let second = api
        .get_json(&format!("/api/v1/accounts?q=bulk.example&after={after}"))
        .await;
    let rest: Vec<&str> = second["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email"].as_str().unwrap())
        .collect();
    assert_eq!(rest, ["user50@bulk.example", "user51@bulk.example"]);
    assert_eq!(second["next_after"], Value::Null);
    let by_activity = api
        .get_json("/api/v1/accounts?q=bulk.example&sort=activity")
        .await;
    let after = by_activity["next_after"].as_str().unwrap();
    assert!(after.contains('.'), "TIME.ID: {after}");
    let more = api
        .get_json(&format!(
            "/api/v1/accounts?q=bulk.example&sort=activity&after={after}"
        ))
        .await;
    assert_eq!(more["accounts"].as_array().unwrap().len(), 2);
}
both_backends!(accounts_are_searched_filtered_and_paged);

async fn an_account_reads_with_its_app_passwords(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    let (created, phone) = app.new_app_password(&alice, "Phone").await;
    app.new_app_password(&alice, "Laptop").await;
    sqlx::query(
        "UPDATE app_passwords SET last_used_at = $1, last_used_ip = '192.0.2.7', \
         last_used_protocol = 'imap' WHERE id = $2",
    )
    .bind(app.clock_now())
    .bind(phone)
    .execute(&app.db.pool)
    .await
    .unwrap();
    let (_, api) = root_with_token(&app).await;
    let alice_id = app.user_id(ALICE).await;
    let read = api.get_json(&format!("/api/v1/accounts/{alice_id}")).await;
    assert_eq!(read["account"]["email"], ALICE);
    assert_eq!(read["account"]["must_reset"], false);
    let passwords = read["app_passwords"].as_array().unwrap();
    assert_eq!(passwords.len(), 2);
    let p = passwords.iter().find(|p| p["id"] == phone).unwrap();
    assert_eq!(p["name"], "Phone");
    assert_eq!(p["status"], "active");
    assert_eq!(p["scope"], "imap");
    assert_eq!(p["last_used_ip"], "192.0.2.7");
    assert_eq!(p["last_used_protocol"], "imap");
    assert_eq!(p["last_used_at"], app.clock_now());
    assert_eq!(p["lookup_id"], &created.plaintext[..6]);
    let text = read.to_string();
    assert!(!text.contains(&created.plaintext), "never the secret");
}
both_backends!(an_account_reads_with_its_app_passwords);

/// The audit detail of the newest `event`, and its actor's id.
async fn newest(app: &TestApp, event: &str) -> (String, Option<i64>) {
    sqlx::query_as(
        "SELECT detail, actor_user_id FROM audit_log WHERE event = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(event)
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

async fn revocations_through_the_api_are_done_and_audited_with_the_token(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    let (_, phone) = app.new_app_password(&alice, "Phone").await;
    app.new_app_password(&alice, "Laptop").await;
    app.new_app_password(&alice, "Tablet").await;
    let (_, api) = root_with_token(&app).await;
    let alice_id = app.user_id(ALICE).await;
    let root_id = app.user_id(ROOT).await;

    let one = format!("/api/v1/accounts/{alice_id}/app-passwords/{phone}/revoke");
    let answer = api
        .post_json(&one, &json!({ "reason": "lost phone" }), StatusCode::OK)
        .await;
    assert_eq!(answer["revoked"], 1);
    assert_eq!(answer["mail_server"], "kept", "no doveadm configured");
    let revoked_at: Option<i64> =
        sqlx::query_scalar("SELECT revoked_at FROM app_passwords WHERE id = $1")
            .bind(phone)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(revoked_at, Some(app.clock_now()));
    let (detail, actor) = newest(&app, "app_password_revoked").await;
    assert_eq!(actor, Some(root_id));
    assert!(detail.contains("reason: lost phone"), "{detail}");
    assert!(detail.contains("API token “Ticketing”"), "{detail}");
    let again = api.post(&one, &json!({ "reason": "twice" })).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);

    let all = format!("/api/v1/accounts/{alice_id}/revoke-all");
    let answer = api
        .post_json(&all, &json!({ "reason": "leak" }), StatusCode::OK)
        .await;
    assert_eq!(answer["revoked"], 2);
    assert_eq!(app.live_app_passwords().await, 0);
    let (detail, _) = newest(&app, "all_app_passwords_revoked").await;
    assert!(detail.contains("API token “Ticketing”"), "{detail}");

    // The browser's own actions say nothing of a token.
    let (_, laptop) = app.new_app_password(&alice, "New laptop").await;
    alice.revoke(laptop, "mine").await;
    let (detail, _) = newest(&app, "app_password_revoked").await;
    assert!(!detail.contains("API token"), "{detail}");
}
both_backends!(revocations_through_the_api_are_done_and_audited_with_the_token);

async fn the_compromise_response_reports_each_step(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    app.new_app_password(&alice, "Phone").await;
    app.new_app_password(&alice, "Laptop").await;
    let (_, api) = root_with_token(&app).await;
    let alice_id = app.user_id(ALICE).await;
    let path = format!("/api/v1/accounts/{alice_id}/compromised");
    let refused = api.post(&path, &json!({ "reason": "  " })).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.live_app_passwords().await, 2);

    let report = api
        .post_json(&path, &json!({ "reason": "phishing kit" }), StatusCode::OK)
        .await;
    assert_eq!(
        report,
        json!({ "app_passwords_revoked": 2, "web_sessions_ended": 1,
                "new_password_required": true, "mail_server": "kept" })
    );
    assert_eq!(app.live_app_passwords().await, 0);
    assert_ne!(alice.get_status("/").await, StatusCode::OK, "signed out");
    let read = api.get_json(&format!("/api/v1/accounts/{alice_id}")).await;
    assert_eq!(read["account"]["must_reset"], true);
    let (detail, _) = newest(&app, "account_compromised").await;
    assert!(detail.contains("phishing kit"), "{detail}");
    assert!(detail.contains("API token “Ticketing”"), "{detail}");
}
both_backends!(the_compromise_response_reports_each_step);

async fn a_bulk_dry_run_counts_what_the_run_revokes(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    app.new_app_password(&alice, "Phone").await;
    app.new_app_password(&alice, "Laptop").await;
    let bob = app.signed_in("bob@other.example").await;
    app.new_app_password(&bob, "Bob's phone").await;
    let (_, api) = root_with_token(&app).await;
    let filter = json!({ "domain": "example.org", "dry_run": true });
    let preview = api
        .post_json("/api/v1/bulk-revoke", &filter, StatusCode::OK)
        .await;
    assert_eq!(preview["total"], 2);
    assert_eq!(
        preview["accounts"],
        json!([{ "email": ALICE, "app_passwords": 2 }])
    );
    assert_eq!(
        app.live_app_passwords().await,
        3,
        "a dry run changes nothing"
    );

    let run = json!({ "domain": "example.org", "dry_run": false, "reason": "breach" });
    let started = api.post("/api/v1/bulk-revoke", &run).await;
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let job: Value = started.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/bulk-revoke/{}", job["id"]));
    assert_eq!(job["matched"], preview["total"]);
    let mut done = job;
    for _ in 0..200 {
        if done["state"] != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        done = api.get_json(&location).await;
    }
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["revoked"], preview["total"]);
    assert_eq!(done["percent"], 100);
    assert_eq!(done["batches"], 1);
    assert_eq!(app.live_app_passwords().await, 1, "bob's is left");
    let (detail, _) = newest(&app, "bulk_revocation").await;
    assert!(detail.contains("API token “Ticketing”"), "{detail}");

    let missing = api.get("/api/v1/bulk-revoke/999").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let none = api
        .post("/api/v1/bulk-revoke", &json!({ "dry_run": true }))
        .await;
    assert_eq!(none.status(), StatusCode::UNPROCESSABLE_ENTITY, "no filter");
    let bad = api
        .post(
            "/api/v1/bulk-revoke",
            &json!({ "used_from": "not a net", "dry_run": true }),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
both_backends!(a_bulk_dry_run_counts_what_the_run_revokes);

async fn an_invitation_through_the_api_gives_a_working_link(backend: Backend) {
    let (app, _alice) = app_with_alice(backend).await;
    let (_, api) = root_with_token(&app).await;
    let invited = api
        .post_json(
            "/api/v1/invitations",
            &json!({ "email": "new.person@example.org" }),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(invited["email"], "new.person@example.org");
    let link = invited["link"].as_str().unwrap();
    let path = &link[link.find("/invite/").unwrap()..];
    let page = app.browser().get_text(path).await;
    assert!(page.contains("new.person@example.org"), "{page}");
    let (detail, _) = newest(&app, "invitation_created").await;
    assert!(detail.contains("API token “Ticketing”"), "{detail}");

    let exists = api
        .post("/api/v1/invitations", &json!({ "email": ALICE }))
        .await;
    assert_eq!(exists.status(), StatusCode::CONFLICT);
    let bad = api
        .post("/api/v1/invitations", &json!({ "email": "not an address" }))
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
both_backends!(an_invitation_through_the_api_gives_a_working_link);

async fn the_audit_log_reads_in_pages_and_exports_back_to_the_same_rows(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    for name in ["One", "Two", "Three"] {
        app.new_app_password(&alice, name).await;
    }
    let (_, api) = root_with_token(&app).await;
    let filter = format!("account={ALICE}&event=app_password_created");
    let page = api
        .get_json(&format!("/api/v1/audit?{filter}&limit=2"))
        .await;
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries[0]["detail"].as_str().unwrap().contains("Three"));
    let older = page["older_than"].as_i64().unwrap();
    let rest = api
        .get_json(&format!("/api/v1/audit?{filter}&limit=2&before={older}"))
        .await;
    assert_eq!(rest["entries"].as_array().unwrap().len(), 1);
    assert!(rest["entries"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("One"));
    assert_eq!(rest["older_than"], Value::Null);

    let all = app.count("SELECT COUNT(*) FROM audit_log").await;
    let jsonl = api.get("/api/v1/audit/export?format=jsonl").await;
    assert_eq!(jsonl.status(), StatusCode::OK);
    assert!(jsonl.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/jsonl"));
    let text = jsonl.text().await.unwrap();
    let rows: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(rows.len() as i64, all);
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM audit_log ORDER BY id")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    let exported: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(exported, ids);

    let csv = api
        .get(&format!("/api/v1/audit/export?format=csv&{filter}"))
        .await;
    assert_eq!(csv.status(), StatusCode::OK);
    let text = csv.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let details: Vec<String> = reader
        .records()
        .map(|r| r.unwrap().get(7).unwrap().to_owned())
        .collect();
    assert_eq!(details.len(), 3);
    assert!(details[0].contains("One") && details[2].contains("Three"));
    let bad = api.get("/api/v1/audit/export?format=xml").await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
both_backends!(the_audit_log_reads_in_pages_and_exports_back_to_the_same_rows);
