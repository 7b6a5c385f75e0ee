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
        let done = admin
            .post("/admin/bulk-revoke", "/admin/bulk-revoke", &form)
            .await;
        assert_eq!(done.status(), StatusCode::OK, "{what}");
        let text = done.text().await.unwrap();
        assert!(
            text.contains(&format!("{count} app passwords of")),
            "{what}: {text}"
        );
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
    admin
        .post("/admin/bulk-revoke", "/admin/bulk-revoke", &form)
        .await;
    app.assert_audited(ALICE, "all_app_passwords_revoked").await;
    assert_eq!(app.live_app_passwords().await, 2, "bob's stay");
}
both_backends!(a_bulk_revocation_needs_a_filter_and_an_admin);
