//! The dashboard's list over HTTP, on both backends: past passwords behind a link that
//! works without JavaScript, renaming (name rules, uniqueness, owner only, audited), times
//! as `<time>` with the exact UTC time, and the account's activity in plain sentences.

use reqwest::StatusCode;

use crate::both_backends;
use mailkeys_test_support::prelude::*;

/// Revoked passwords leave the list; `/?past=1` (the "Show past passwords" link) shows them.
async fn past_passwords_are_behind_a_plain_link(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    let empty = alice.get_text("/").await;
    assert!(
        empty.contains("You have no app passwords yet.")
            && empty.contains(r##"<a href="#create">create an app password below</a>"##),
        "an empty state that says what to do: {empty}"
    );
    let (_, phone) = app.new_app_password(&alice, "Phone").await;
    app.new_app_password(&alice, "Tablet").await;
    alice.revoke(phone, "lost").await;

    let page = alice.get_text("/").await;
    assert!(page.contains("Tablet"), "{page}");
    assert!(
        !page.contains(">Phone<"),
        "the revoked one is out of the list: {page}"
    );
    assert!(
        page.contains(r#"<a href="/?past=1#past">Show past passwords (1)</a>"#),
        "{page}"
    );
    let past = alice.get_text("/?past=1").await;
    assert!(
        past.contains(r#"<h2 id="past">Past passwords</h2>"#),
        "{past}"
    );
    assert!(
        past.contains(">Phone<") && past.contains(">revoked<"),
        "{past}"
    );
    assert!(past.contains(r#"<a href="/">Hide past passwords</a>"#));

    // Relative times, with the exact UTC time for the tooltip and for app.js.
    let re = regex::Regex::new(
        r#"<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ" title="\d{4}-\d\d-\d\d \d\d:\d\d UTC">just now</time>"#,
    )
    .unwrap();
    assert!(re.is_match(&page), "a relative time: {page}");
    // Moving the session's clock would end the session: the row is made older instead.
    sqlx::query("UPDATE app_passwords SET created_at = created_at - 3 * 3600 - 60")
        .execute(&app.db.pool)
        .await
        .unwrap();
    assert!(alice.get_text("/").await.contains(">3 hours ago</time>"));

    // With nothing live but something past, the empty state says so.
    alice.revoke_all().await;
    let none_live = alice.get_text("/").await;
    assert!(
        none_live.contains("You have no active app passwords.")
            && none_live.contains("Show past passwords (2)"),
        "{none_live}"
    );
}
both_backends!(past_passwords_are_behind_a_plain_link);

async fn rename(browser: &Browser, id: i64, name: &str) -> reqwest::Response {
    let page = format!("/app-passwords/{id}/rename");
    // The CSRF token from the dashboard: the rename form is a 404 for anyone else.
    browser.post("/", &page, &[("name", name)]).await
}

/// Renaming: the owner's live passwords only, with a new password's name rules and
/// uniqueness among the live ones; audited; the notice says nothing else changed.
async fn a_password_can_be_renamed_by_its_owner(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    let (phone, id) = app.new_app_password(&alice, "Phone").await;
    let (_, tablet) = app.new_app_password(&alice, "Tablet").await;

    let form = alice.get_text(&format!("/app-passwords/{id}/rename")).await;
    assert!(form.contains("<h1>Rename “Phone”</h1>"), "{form}");
    assert!(form.contains(r#"name="name" value="Phone""#), "{form}");

    let done = rename(&alice, id, "Work phone").await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/?done=renamed");
    let page = alice.get_text(location(&done)).await;
    let notice = regex::Regex::new(r#"<p class="notice"[^>]*>([^<]*)</p>"#)
        .unwrap()
        .captures(&page)
        .expect("a notice")[1]
        .to_owned();
    assert_eq!(
        notice,
        "The app password was renamed. It works as before: nothing changes on your devices.",
        "no word about mail connections, which a rename leaves alone"
    );
    assert!(page.contains(">Work phone<"), "{page}");
    let (stored, hash): (String, String) =
        sqlx::query_as("SELECT name, password_hash FROM app_passwords WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(stored, "Work phone");
    assert!(
        mailkeys::infra::hashing::verify_stored(
            &secrecy::SecretString::from(phone.plaintext.clone()),
            &hash
        )
        .unwrap(),
        "the password itself still works"
    );
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE event = 'app_password_renamed'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(
        detail,
        format!(
            "“Phone” renamed to “Work phone” (starts with {})",
            &phone.plaintext[..6]
        )
    );

    refused_page(
        rename(&alice, id, "Tablet").await,
        "already have an active app password with this name",
        "a live name",
    )
    .await;
    refused_page(
        rename(&alice, id, "  ").await,
        "Give the app password a name",
        "empty",
    )
    .await;
    refused_page(
        rename(&alice, id, &"x".repeat(65)).await,
        "at most 64 characters",
        "too long",
    )
    .await;
    refused_page(
        rename(&alice, id, "a\u{202e}b").await,
        "A name",
        "a direction mark",
    )
    .await;

    let mallory = app.signed_in("mallory@example.org").await;
    assert_eq!(
        rename(&mallory, id, "Mine").await.status(),
        StatusCode::NOT_FOUND
    );
    alice.revoke(tablet, "gone").await;
    assert_eq!(
        rename(&alice, tablet, "Old tablet").await.status(),
        StatusCode::NOT_FOUND,
        "a revoked password keeps its name"
    );
    // The name of a revoked password is free again.
    assert_eq!(
        rename(&alice, id, "Tablet").await.status(),
        StatusCode::SEE_OTHER
    );
}
both_backends!(a_password_can_be_renamed_by_its_owner);

/// The activity reads as sentences: no Debug escapes or empty quotes, counts pluralised.
async fn activity_reads_as_plain_sentences(backend: Backend) {
    let (app, alice) = app_with_alice_signed_out(backend).await;
    assert_eq!(
        alice.sign_in_status(ALICE, "wrong").await,
        StatusCode::UNAUTHORIZED
    );
    alice.sign_in(ALICE, PASSWORD).await;
    let (created, id) = app.new_app_password(&alice, "📱 Laptop").await;
    alice.revoke(id, "👨‍💻 stolen").await;
    let (_, _) = app.new_app_password(&alice, "Phone").await;
    alice.revoke_all().await;

    let page = alice.get_text("/account").await;
    let lookup = &created.plaintext[..6];
    for sentence in [
        "A sign-in failed: 1 failure in a row.".to_owned(),
        format!("App password created: “📱 Laptop” (starts with {lookup})."),
        // A reason may hold joined emoji (only names refuse invisible characters): shown
        // as typed, not escaped.
        format!("App password revoked: “📱 Laptop” (starts with {lookup}), reason: 👨‍💻 stolen."),
        "All app passwords revoked: 1 app password, reason: lost laptop.".to_owned(),
        "Signed in.".to_owned(),
    ] {
        assert!(page.contains(&sentence), "{sentence:?} in {page}");
    }
    for debug in [
        "\\u{",
        "&quot;&quot;",
        "&#34;&#34;",
        "reason &quot;",
        "1 failures",
        "1 app passwords",
    ] {
        assert!(!page.contains(debug), "{debug:?} in {page}");
    }
    assert!(
        regex::Regex::new(
            r#"<time class="exact" datetime="[0-9T:Z-]+">\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>"#
        )
        .unwrap()
        .is_match(&page),
        "exact times as <time>, UTC until app.js rewrites them"
    );
}
both_backends!(activity_reads_as_plain_sentences);
