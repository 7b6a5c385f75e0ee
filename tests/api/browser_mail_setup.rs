//! The show-once page and the session end in real Chromium (harness: tests/api/browser.rs):
//! reload and Back never post the form again nor show the password twice, "Test it now"
//! streams its steps into the page, and a form posted after the session ended comes back
//! filled in after signing in again.

use fantoccini::Client;
use serde_json::json;

use crate::browser::{
    as_alice, click, create_app_password, find, js, path_of, save_screenshot, signed_in_browser,
    text_of, type_into, wait_until,
};
use mailkeys_test_support::prelude::*;

/// Every address the browser's history and the page know of: none may hold `secret`.
async fn assert_no_url_holds(b: &Client, secret: &str) {
    let url = b.current_url().await.unwrap().to_string();
    assert!(!url.contains(secret), "{url}");
    let entries = js(
        b,
        "return performance.getEntries().map((e) => e.name).join('\\n')",
    )
    .await;
    assert!(!entries.as_str().unwrap_or("").contains(secret));
}

/// At 360 px wide the page scrolls only downwards (screenshot `file`), then the window is
/// made wide again.
async fn assert_fits_a_phone(b: &Client, file: &str) {
    b.set_window_size(360, 800).await.unwrap();
    let overflow = js(
        b,
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
    )
    .await;
    save_screenshot(b, file).await;
    assert_eq!(overflow, json!(0), "no sideways scrolling at 360 px");
    b.set_window_size(1280, 900).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_dns_page_lists_records_and_fits_a_phone() {
    let app = std::sync::Arc::new(spawn_app(Backend::Sqlite).await);
    app.add_user("root@example.org", PASSWORD, true).await;
    let shared = app.clone();
    signed_in_browser(
        true,
        app.url(""),
        "root@example.org",
        move |b, base| async move {
            b.goto(&format!("{base}/admin")).await.unwrap();
            click(&b, "main a[href='/admin/mail-setup']").await;
            let records = text_of(&b, "pre.records").await;
            assert!(
                records.contains("_imaps._tcp.example.org. 3600 IN SRV 0 1 993 mail.example.org."),
                "{records}"
            );
            assert_fits_a_phone(&b, "admin-mail-setup-360.png").await;
            drop(shared);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_and_back_never_post_again_nor_show_the_password_twice() {
    let app = spawn_app(Backend::Sqlite).await;
    as_alice(app, true, move |b, app, _base| async move {
        let shown = create_app_password(&b, "Phone").await;
        let page_path = path_of(&b).await;
        assert!(
            page_path.ends_with("/new"),
            "a page of its own: {page_path}"
        );
        assert_no_url_holds(&b, &shown[7..]).await;
        save_screenshot(&b, "show-once.png").await;
        assert_fits_a_phone(&b, "show-once-360.png").await;

        b.refresh().await.unwrap();
        let heading = text_of(&b, "main h1").await;
        assert!(heading.contains("was shown already"), "{heading}");
        assert!(text_of(&b, "main")
            .await
            .contains("revoke it and create another"));
        assert!(!b.source().await.unwrap().contains(&shown[7..]));

        b.back().await.unwrap();
        find(&b, "section#create").await;
        assert_eq!(
            path_of(&b).await,
            "/",
            "Back leads to the dashboard, not a re-post"
        );
        b.forward().await.unwrap();
        let heading = text_of(&b, "main h1").await;
        assert!(heading.contains("was shown already"), "{heading}");
        assert!(!b.source().await.unwrap().contains(&shown[7..]));

        assert_eq!(
            app.live_app_passwords().await,
            1,
            "one password, however often"
        );
        let created = app
            .audit_events_of(ALICE)
            .await
            .iter()
            .filter(|e| *e == "app_password_created")
            .count();
        assert_eq!(created, 1);
        assert_no_url_holds(&b, &shown[7..]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_it_now_streams_its_steps_into_the_show_once_page() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.mail_servers = vec![nowhere()]).await;
    as_alice(app, true, move |b, app, _base| async move {
        let shown = create_app_password(&b, "Phone").await;
        let page_path = path_of(&b).await;
        let live = find(&b, "#check-live").await;
        assert_eq!(
            live.attr("aria-live").await.unwrap().as_deref(),
            Some("polite")
        );
        assert_eq!(
            text_of(&b, "#check-form button[type=submit]").await,
            "Test it now"
        );
        js(&b, "window.stillThisPage = true").await;
        click(&b, "#check-form button[type=submit]").await;
        let verdict = find(&b, "#check-output #check-result").await;
        let text = verdict.text().await.unwrap();
        assert!(text.to_lowercase().contains("refused"), "{text}");
        assert_eq!(
            js(&b, "return window.stillThisPage === true").await,
            json!(true),
            "the test ran in the page (fetch + stream), not by posting the form"
        );
        assert_eq!(path_of(&b).await, page_path);
        assert_no_url_holds(&b, &shown[7..]).await;
        // The session ends before "Test it now": the page goes to the sign-in page that
        // says so, rather than failing silently.
        b.goto(&app.url("/")).await.unwrap();
        create_app_password(&b, "Laptop").await;
        app.clock
            .advance(app.settings.session_idle_timeout_secs + 1);
        click(&b, "#check-form button[type=submit]").await;
        wait_until(
            &b,
            "the sign-in page saying the session ended",
            "return !!document.getElementById('session-ended')",
        )
        .await;
        assert!(app
            .audit_events_of(ALICE)
            .await
            .iter()
            .any(|e| e == "connection_test"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_session_ends_sign_in_returns_to_the_page_and_the_form_is_kept() {
    let app = spawn_app(Backend::Sqlite).await;
    as_alice(app, true, move |b, app, _base| async move {
        let idle = app.settings.session_idle_timeout_secs + 1;

        // A form typed into, then posted after the session ended.
        type_into(&b, "#create input[name=name]", "Tablet").await;
        app.clock.advance(idle);
        click(&b, "#create button[type=submit]").await;
        let notice = text_of(&b, "#session-ended").await;
        assert!(notice.contains("Your session ended."), "{notice}");
        assert_eq!(path_of(&b).await, "/sign-in");
        save_screenshot(&b, "session-ended.png").await;
        type_into(&b, "input[name=email]", ALICE).await;
        type_into(&b, "input[name=password]", PASSWORD).await;
        click(&b, "main form button[type=submit]").await;
        find(&b, "section#create").await;
        assert_eq!(path_of(&b).await, "/");
        let kept = find(&b, "#create input[name=name]").await;
        assert_eq!(kept.prop("value").await.unwrap().as_deref(), Some("Tablet"));
        assert_eq!(
            app.live_app_passwords().await,
            0,
            "nothing was created unasked"
        );
        click(&b, "#create button[type=submit]").await;
        find(&b, "code#new-password").await;
        assert_eq!(app.live_app_passwords().await, 1);

        // A link followed after the session ended: back to that page after sign-in.
        b.goto(&format!("{}/", app.url(""))).await.unwrap();
        app.clock.advance(idle);
        click(&b, "nav a[href='/account']").await;
        wait_until(
            &b,
            "the sign-in page",
            "return !!document.getElementById('session-ended')",
        )
        .await;
        type_into(&b, "input[name=email]", ALICE).await;
        type_into(&b, "input[name=password]", PASSWORD).await;
        click(&b, "main form button[type=submit]").await;
        wait_until(
            &b,
            "the account page",
            "return location.pathname === '/account'",
        )
        .await;
    })
    .await;
}
