//! Creating, listing and revoking app passwords, and refusing bad input.

use mailkeys::infra::hashing::verify_stored;
use reqwest::StatusCode;
use secrecy::SecretString;

use crate::both_backends;
use mailkeys_test_support::prelude::*;

/// The column `column` of the app password `id`.
async fn column_of<T>(app: &TestApp, id: i64, column: &str) -> T
where
    T: Send + Unpin,
    (T,): for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
{
    sqlx::query_scalar(&format!("SELECT {column} FROM app_passwords WHERE id = $1"))
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

/// Every text column of every table, to prove a plaintext never reached the database.
async fn database_text(app: &TestApp) -> String {
    let mut all = String::new();
    for (table, columns) in [
        ("users", "email || ' ' || password_hash"),
        ("app_passwords", "name || ' ' || lookup_id || ' ' || password_hash || ' ' || COALESCE(revoked_reason, '')"),
        ("sessions", "id_hash || ' ' || csrf_token"),
        ("audit_log", "event || ' ' || detail"),
    ] {
        let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT {columns} FROM {table}")).fetch_all(&app.db.pool).await.unwrap();
        all.push_str(&rows.join("\n"));
    }
    all
}

async fn a_new_app_password_is_shown_once_and_stored_only_as_a_dovecot_hash(backend: Backend) {
    let (app, browser) = app_with_alice(backend).await;
    let created = browser.create_app_password("Phone").await;

    let re = regex::Regex::new(r"^[a-km-np-z2-9]{6}(-[a-km-np-z2-9]{6}){4}$").unwrap();
    assert!(re.is_match(&created.plaintext), "{}", created.plaintext);
    assert!(
        created.page.contains("mail.example.org"),
        "IMAP server shown"
    );
    assert!(
        created.page.contains("993") && created.page.contains(ALICE),
        "port and username shown"
    );

    let lookup = &created.plaintext[..6];
    let id = app_password_id(&app, lookup).await;
    let hash: String = column_of(&app, id, "password_hash").await;
    assert!(
        hash.starts_with("{ARGON2ID}$argon2id$v=19$m=1024,t=1,p=1$"),
        "{hash}"
    );
    assert!(verify_stored(&SecretString::from(created.plaintext.clone()), &hash).unwrap());
    assert!(!verify_stored(&SecretString::from(format!("{lookup}-wrong")), &hash).unwrap());

    let dashboard = browser.get_text("/").await;
    assert!(dashboard.contains("Phone") && dashboard.contains(lookup));
    assert!(
        !dashboard.contains(&created.plaintext[7..]),
        "the secret is never shown again"
    );
    assert!(
        !database_text(&app).await.contains(&created.plaintext[7..]),
        "no plaintext in the database"
    );
    let user_id = app.user_id(ALICE).await;
    assert_eq!(
        app.audit_events(user_id).await,
        ["sign_in", "app_password_created"]
    );
}
both_backends!(a_new_app_password_is_shown_once_and_stored_only_as_a_dovecot_hash);

async fn expiry_scope_and_networks_are_saved(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.session_idle_timeout_secs = 100 * 86_400;
        s.session_absolute_timeout_secs = 100 * 86_400;
    })
    .await;
    let browser = app.signed_in(ALICE).await;
    let response = browser
        .create_app_password_with(&[
            ("name", "Laptop"),
            ("expires", "30"),
            ("scope", "imap+smtp"),
            ("allowed_nets", "192.0.2.0/24, 2001:db8::/32"),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (expires_at, scope, nets): (Option<i64>, String, Option<String>) =
        sqlx::query_as("SELECT expires_at, scope, allowed_nets FROM app_passwords")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(expires_at, Some(app.clock_now() + 30 * 86_400));
    assert_eq!(scope, "imap+smtp");
    assert_eq!(nets.as_deref(), Some("192.0.2.0/24,2001:db8::/32"));
    let dashboard = browser.get_text("/").await;
    assert!(dashboard.contains("192.0.2.0/24") && dashboard.contains("IMAP and SMTP"));

    app.clock.advance(31 * 86_400);
    // Expired passwords are listed with the past ones (the "Show past passwords" link).
    assert!(!browser.get_text("/").await.contains("badge expired"));
    assert!(browser.get_text("/?past=1").await.contains("badge expired"));
}
both_backends!(expiry_scope_and_networks_are_saved);

async fn bad_names_are_refused_with_a_message_and_nothing_changes(backend: Backend) {
    let (app, browser) = app_with_alice(backend).await;
    let long = "x".repeat(65);
    let cases: [(&str, &str); 5] = [
        ("", "Give the app password a name"),
        ("   ", "Give the app password a name"),
        (&long, "at most 64 characters"),
        ("nul\0byte", "control characters"),
        ("evil\u{202E}gpj.exe", "invisible or formatting characters (such as a zero-width space, a soft hyphen, a direction mark"),
    ];
    for (name, message) in cases {
        let response = browser
            .create_app_password_with(&[("name", name), ("expires", "never")])
            .await;
        refused_page(response, message, &format!("{name:?}")).await;
    }
    let response = browser
        .create_app_password_with(&[("name", "Ok"), ("expires", "12")])
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = browser
        .create_app_password_with(&[("name", "Ok"), ("allowed_nets", "not-a-net")])
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains(r#"value="not-a-net""#),
        "what the user typed is kept"
    );
    let count = app.count("SELECT COUNT(*) FROM app_passwords").await;
    assert_eq!(count, 0);
}
both_backends!(bad_names_are_refused_with_a_message_and_nothing_changes);

async fn markup_and_sql_in_a_name_are_stored_verbatim_and_escaped(backend: Backend) {
    let (app, browser) = app_with_alice(backend).await;
    let name = r#"<script>alert(1)</script>' OR '1'='1 -- 100%"#;
    browser.create_app_password(name).await;
    let stored: String = sqlx::query_scalar("SELECT name FROM app_passwords")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, name);
    let page = browser.get_text("/").await;
    assert!(!page.contains("<script>alert(1)</script>"));
    assert!(
        page.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "shown escaped"
    );
}
both_backends!(markup_and_sql_in_a_name_are_stored_verbatim_and_escaped);

async fn a_duplicate_active_name_is_refused_but_a_revoked_name_can_be_reused(backend: Backend) {
    let (app, browser) = app_with_alice(backend).await;
    let first = browser.create_app_password("Phone").await;
    let response = browser
        .create_app_password_with(&[("name", "Phone"), ("expires", "never")])
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("already have an active app password with this name"));

    let id = app_password_id(&app, &first.plaintext[..6]).await;
    assert_eq!(
        browser.revoke(id, "new phone").await.status(),
        StatusCode::SEE_OTHER
    );
    browser.create_app_password("Phone").await;
}
both_backends!(a_duplicate_active_name_is_refused_but_a_revoked_name_can_be_reused);

async fn revoking_keeps_the_row_for_the_audit_trail(backend: Backend) {
    let (app, browser) = app_with_alice(backend).await;
    let (_, id) = app.new_app_password(&browser, "Tablet").await;

    let confirm = browser.get(&format!("/app-passwords/{id}/revoke")).await;
    assert_eq!(confirm.status(), StatusCode::OK);
    assert!(confirm.text().await.unwrap().contains("Revoke “Tablet”?"));
    let count = app.live_app_passwords().await;
    assert_eq!(count, 1, "showing the confirmation changes nothing");

    let response = browser.revoke(id, "lost it").await;
    assert_eq!(location(&response), "/?done=revoked&sessions=kept");
    let (revoked_at, revoked_by, reason): (Option<i64>, Option<i64>, Option<String>) =
        sqlx::query_as(
            "SELECT revoked_at, revoked_by, revoked_reason FROM app_passwords WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let user_id = app.user_id(ALICE).await;
    assert!(revoked_at.is_some());
    assert_eq!(revoked_by, Some(user_id));
    assert_eq!(reason.as_deref(), Some("lost it"));
    assert!(browser.get_text("/?past=1").await.contains("badge revoked"));
    let notice = browser.get_text(location(&response)).await;
    assert!(
        notice.contains("The app password was revoked")
            && notice.contains("stays connected until it reconnects"),
        "{notice}"
    );

    assert_eq!(
        browser.revoke(id, "again").await.status(),
        StatusCode::NOT_FOUND,
        "already revoked"
    );
    let confirm_page = format!("/app-passwords/{id}/revoke");
    browser
        .assert_status(
            &confirm_page,
            StatusCode::NOT_FOUND,
            "nothing left to confirm",
        )
        .await;
    assert_eq!(
        app.audit_events(user_id).await,
        ["sign_in", "app_password_created", "app_password_revoked"]
    );
}
both_backends!(revoking_keeps_the_row_for_the_audit_trail);

async fn revoke_all_revokes_every_live_password(backend: Backend) {
    let (app, browser) = app_with_alice(backend).await;
    for name in ["One", "Two", "Three"] {
        browser.create_app_password(name).await;
    }
    let confirm = browser.get_text("/app-passwords/revoke-all").await;
    assert!(confirm.contains("Revoke all 3 app passwords?"));
    assert_eq!(
        location(&browser.revoke_all().await),
        "/?done=revoked-all&sessions=kept"
    );
    let live = app.live_app_passwords().await;
    assert_eq!(live, 0);
    app.assert_audited(ALICE, "all_app_passwords_revoked").await;
}
both_backends!(revoke_all_revokes_every_live_password);

async fn another_users_password_can_be_neither_seen_nor_revoked(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    let mallory = app.signed_in("mallory@example.org").await;
    let (created, id) = app.new_app_password(&alice, "Alice's phone").await;

    assert!(!mallory.get_text("/").await.contains("Alice&#39;s phone"));
    assert!(!mallory
        .get_text("/")
        .await
        .contains(&created.plaintext[..6]));
    let confirm_page = format!("/app-passwords/{id}/revoke");
    mallory
        .assert_status(&confirm_page, StatusCode::NOT_FOUND, "not hers to confirm")
        .await;
    assert_eq!(
        mallory.revoke(id, "mine now").await.status(),
        StatusCode::NOT_FOUND
    );
    mallory.revoke_all().await;
    let revoked: Option<i64> = column_of(&app, id, "revoked_at").await;
    assert_eq!(revoked, None, "alice's password is untouched");
}
both_backends!(another_users_password_can_be_neither_seen_nor_revoked);

/// Posts the limits form of an app password, from and to its page `page`.
async fn set_limits(browser: &Browser, page: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    browser.post(page, page, fields).await
}

async fn scope_and_networks_can_be_changed_later_by_the_owner_only(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    let (_, id) = app.new_app_password(&alice, "Phone").await;
    let page = format!("/app-passwords/{id}/edit");
    let form = alice.get_text(&page).await;
    assert!(form.contains("Limits of “Phone”"), "{form}");

    let bad = set_limits(
        &alice,
        &page,
        &[("scope", "imap"), ("allowed_nets", "10.0.0.0/99")],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.text().await.unwrap().contains(r#"value="10.0.0.0/99""#),
        "what was typed is kept"
    );

    let saved = set_limits(
        &alice,
        &page,
        &[("scope", "imap+smtp"), ("allowed_nets", "198.51.100.0/24")],
    )
    .await;
    assert_eq!(location(&saved), "/?done=limits&sessions=kept");
    let (scope, nets): (String, Option<String>) =
        sqlx::query_as("SELECT scope, allowed_nets FROM app_passwords WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(
        (scope.as_str(), nets.as_deref()),
        ("imap+smtp", Some("198.51.100.0/24"))
    );
    set_limits(&alice, &page, &[("scope", "imap"), ("allowed_nets", "")]).await;
    let nets: Option<String> = column_of(&app, id, "allowed_nets").await;
    assert_eq!(
        nets, None,
        "an empty list is stored as NULL (anywhere), never ''"
    );

    let mallory = app.signed_in("mallory@example.org").await;
    assert_eq!(mallory.get_status(&page).await, StatusCode::NOT_FOUND);
    assert_eq!(
        mallory
            .post("/", &page, &[("scope", "imap+smtp")])
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    alice.revoke(id, "done").await;
    alice
        .assert_status(
            &page,
            StatusCode::NOT_FOUND,
            "revoked passwords are not editable",
        )
        .await;
    app.assert_audited(ALICE, "app_password_limits_changed")
        .await;
}
both_backends!(scope_and_networks_can_be_changed_later_by_the_owner_only);
