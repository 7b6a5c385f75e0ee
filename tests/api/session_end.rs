//! After a session ends (idle timeout): following a link leads to a sign-in page that says
//! so and returns to the page after sign-in; a form posted after the end comes back filled
//! in (names, never passwords); no return path leads off the site.

use reqwest::StatusCode;

use crate::both_backends;
use mailkeys_test_support::prelude::*;

/// The hidden `next` field of a sign-in page, unescaped.
fn next_in(page: &str) -> Option<String> {
    let re = regex::Regex::new(r#"name="next" value="([^"]*)""#).unwrap();
    re.captures(page).map(|c| {
        c[1].replace("&#38;", "&")
            .replace("&amp;", "&")
            .replace("&#43;", "+")
            .replace("&#35;", "#")
    })
}

/// Signs in through the sign-in page at `sign_in_path`, with its hidden `next`; the
/// location the sign-in sends the browser to.
async fn sign_in_from(browser: &Browser, sign_in_path: &str) -> String {
    let page = browser.get_text(sign_in_path).await;
    let csrf = csrf_in(&page);
    let next = next_in(&page).unwrap_or_default();
    let response = browser
        .post_raw(
            "/sign-in",
            &[
                ("csrf", &csrf),
                ("email", ALICE),
                ("password", PASSWORD),
                ("next", &next),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    location(&response).to_owned()
}

async fn following_a_link_after_the_session_ended_returns_there_after_sign_in(backend: Backend) {
    let (app, browser) = app_with_alice(backend).await;
    app.clock
        .advance(app.settings.session_idle_timeout_secs + 1);
    let response = browser.get("/account").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let sign_in = location(&response).to_owned();
    assert_eq!(sign_in, "/sign-in?ended=true&next=%2Faccount");
    let page = browser.get_text(&sign_in).await;
    assert!(page.contains("Your session ended."), "{page}");
    assert_eq!(next_in(&page).as_deref(), Some("/account"));
    assert_eq!(sign_in_from(&browser, &sign_in).await, "/account");
    browser
        .assert_status("/account", StatusCode::OK, "signed in again")
        .await;

    // A visitor who never signed in is not told that a session ended.
    let visitor = app.browser();
    assert_eq!(location(&visitor.get("/account").await), "/sign-in");
    assert!(!visitor.get_text("/sign-in").await.contains("session ended"));
}
both_backends!(following_a_link_after_the_session_ended_returns_there_after_sign_in);

async fn a_create_form_posted_after_the_session_ended_comes_back_filled_in(backend: Backend) {
    let (app, browser) = app_with_alice(backend).await;
    let csrf = browser.csrf("/").await;
    app.clock
        .advance(app.settings.session_idle_timeout_secs + 1);
    let response = browser
        .post_raw(
            "/app-passwords",
            &[
                ("csrf", &csrf),
                ("name", "Tablet & co"),
                ("expires", "90"),
                ("scope", "imap+smtp"),
                ("allowed_nets", "192.0.2.0/24"),
                ("password", "never-kept-secret"),
            ],
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "not a 403 dead end"
    );
    let sign_in = location(&response).to_owned();
    assert!(
        sign_in.starts_with("/sign-in?ended=true&next="),
        "{sign_in}"
    );
    assert!(!sign_in.contains("never-kept-secret"));
    let page = browser.get_text(&sign_in).await;
    assert!(page.contains("Your session ended."));
    assert!(page.contains("with what you typed in the form"), "{page}");

    let back = sign_in_from(&browser, &sign_in).await;
    assert!(
        back.starts_with("/?") && back.ends_with("#create"),
        "{back}"
    );
    let form = browser.get_text(&back[..back.find('#').unwrap()]).await;
    assert!(
        form.contains(r#"value="Tablet &#38; co""#),
        "the name is kept"
    );
    assert!(
        form.contains(r#"value="192.0.2.0/24""#),
        "the networks are kept"
    );
    assert!(
        form.contains(r#"value="imap+smtp" selected"#),
        "the use is kept"
    );
    assert!(
        form.contains(r#"value="90" selected"#),
        "the expiry is kept"
    );
    assert!(!form.contains("never-kept-secret"));
    assert_eq!(app.live_app_passwords().await, 0, "nothing was created");
}
both_backends!(a_create_form_posted_after_the_session_ended_comes_back_filled_in);

async fn a_live_session_with_a_forged_token_is_still_refused(backend: Backend) {
    let (app, browser) = app_with_alice(backend).await;
    let response = browser
        .post_raw("/app-passwords", &[("csrf", "forged"), ("name", "X")])
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.live_app_passwords().await, 0);
}
both_backends!(a_live_session_with_a_forged_token_is_still_refused);

async fn sign_in_never_returns_to_another_site(backend: Backend) {
    let (_app, browser) = app_with_alice_signed_out(backend).await;
    for next in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "/sign-out",
    ] {
        let query = serde_urlencoded::to_string([("ended", "true"), ("next", next)]).unwrap();
        let page = browser.get_text(&format!("/sign-in?{query}")).await;
        assert_eq!(next_in(&page), None, "{next} is not kept");
        // Posted by hand all the same: the sign-in still lands on the dashboard.
        let csrf = csrf_in(&page);
        let response = browser
            .post_raw(
                "/sign-in",
                &[
                    ("csrf", &csrf),
                    ("email", ALICE),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(location(&response), "/", "{next}");
        browser.sign_out().await;
    }
}
both_backends!(sign_in_never_returns_to_another_site);
