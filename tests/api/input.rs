//! Odd input in every text field the forms and the JSON API take: a NUL byte (which
//! PostgreSQL refuses outright) and other controls are refused with a message naming the
//! field, never a 500; invisible characters are refused in names; names are stored NFC.

use mailkeys::startup::setup_link_if_needed;
use reqwest::StatusCode;

use crate::both_backends;
use mailkeys_test_support::prelude::*;

/// The response must be a 422 whose page (or problem details) says `message`.
async fn refused(response: reqwest::Response, message: &str, context: &str) -> String {
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{context}: {body}"
    );
    assert!(
        body.contains(message),
        "{context}: expected {message:?} in {body}"
    );
    body
}

async fn a_nul_in_the_sign_in_email_is_refused_not_a_server_error(backend: Backend) {
    let (app, browser) = app_with_alice_signed_out(backend).await;
    for typed in ["alice\0@example.org", "\0", "alice@example.org\u{1b}"] {
        let response = browser.sign_in(typed, PASSWORD).await;
        refused(
            response,
            "The email address cannot contain control characters",
            typed,
        )
        .await;
    }
    // A NUL in the password is no server error either: just a wrong password.
    let status = browser.sign_in_status(ALICE, "correct pony\0staple").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Nothing was broken by it: alice signs in.
    assert_eq!(
        browser.sign_in_status(ALICE, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 1);
}
both_backends!(a_nul_in_the_sign_in_email_is_refused_not_a_server_error);

async fn a_nul_in_the_setup_email_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let link = setup_link_if_needed(&app.state).await.unwrap().unwrap();
    let path = &link[link.find("/setup/").unwrap()..];
    let browser = app.browser();
    let form = [
        ("email", "root\0@example.org"),
        ("password", NEW_PASSWORD),
        ("confirm", NEW_PASSWORD),
    ];
    let response = browser.post(path, path, &form).await;
    refused(
        response,
        "The email address cannot contain control characters",
        "setup",
    )
    .await;
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
}
both_backends!(a_nul_in_the_setup_email_is_refused);

async fn app_password_names_refuse_controls_and_invisible_characters(backend: Backend) {
    let (app, browser) = app_with_alice(backend).await;
    let create = |name: &'static str| {
        let browser = &browser;
        async move {
            browser
                .create_app_password_with(&[
                    ("name", name),
                    ("expires", "never"),
                    ("scope", "imap"),
                ])
                .await
        }
    };
    refused(
        create("Ph\0one").await,
        "A name cannot contain control characters",
        "NUL",
    )
    .await;
    for name in [
        "Ph\u{200B}one",
        "Ph\u{200D}one",
        "Ph\u{2060}one",
        "\u{FEFF}Phone",
        "Ph\u{AD}one",
        "Ph\u{3164}one",
        "Ph\u{115F}one",
    ] {
        refused(
            create(name).await,
            "A name cannot contain invisible or formatting characters (such as a zero-width space",
            &format!("{name:?}"),
        )
        .await;
    }
    refused(
        create("Ph\u{2028}one").await,
        "A name cannot contain control",
        "U+2028",
    )
    .await;
    assert_eq!(app.live_app_passwords().await, 0);
    // Accepted names are stored NFC: "e" + combining acute becomes "é".
    browser.create_app_password("Te\u{301}le\u{301}phone").await;
    let stored: String = sqlx::query_scalar("SELECT name FROM app_passwords")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, "T\u{e9}l\u{e9}phone");
}
both_backends!(app_password_names_refuse_controls_and_invisible_characters);

async fn the_other_create_fields_refuse_a_nul(backend: Backend) {
    let (app, browser) = app_with_alice(backend).await;
    let cases = [
        ("expires", "never\0", "Choose when the password expires"),
        (
            "scope",
            "imap\0",
            "Choose what the password may be used for",
        ),
        (
            "allowed_nets",
            "192.0.2.0/24\0",
            "The network list cannot contain control",
        ),
    ];
    for (field, value, message) in cases {
        let mut form = vec![("name", "Phone"), ("expires", "never"), ("scope", "imap")];
        form.retain(|(f, _)| *f != field);
        form.push((field, value));
        refused(
            browser.create_app_password_with(&form).await,
            message,
            field,
        )
        .await;
    }
    assert_eq!(app.live_app_passwords().await, 0);
}
both_backends!(the_other_create_fields_refuse_a_nul);

async fn editing_limits_refuses_a_nul_in_the_networks(backend: Backend) {
    let (app, browser) = app_with_alice(backend).await;
    let (_, id) = app.new_app_password(&browser, "Phone").await;
    let path = format!("/app-passwords/{id}/edit");
    let form = [("scope", "imap"), ("allowed_nets", "192.0.2.0/24\n\0")];
    let response = browser.post(&path, &path, &form).await;
    refused(response, "The network list cannot contain control", "edit").await;
    let nets: Option<String> =
        sqlx::query_scalar("SELECT allowed_nets FROM app_passwords WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(nets, None, "unchanged");
}
both_backends!(editing_limits_refuses_a_nul_in_the_networks);

async fn revocation_reasons_refuse_a_nul(backend: Backend) {
    let (app, browser) = app_with_alice(backend).await;
    let (_, id) = app.new_app_password(&browser, "Phone").await;
    let response = browser.revoke(id, "lost\0phone").await;
    refused(
        response,
        "The reason cannot contain control characters",
        "revoke",
    )
    .await;
    let response = browser
        .post("/", "/app-passwords/revoke-all", &[("reason", "lost\0")])
        .await;
    refused(
        response,
        "The reason cannot contain control characters",
        "revoke all",
    )
    .await;
    assert_eq!(app.live_app_passwords().await, 1, "nothing was revoked");
}
both_backends!(revocation_reasons_refuse_a_nul);

async fn admin_fields_refuse_a_nul(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    let (_, id) = app.new_app_password(&alice, "Phone").await;
    let alice_id = app.user_id(ALICE).await;
    app.add_user("root@example.org", PASSWORD, true).await;
    let admin = app.browser();
    assert_eq!(
        admin.sign_in_status("root@example.org", PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    let page = format!("/admin/users/{alice_id}");
    let posts = [
        (
            format!("{page}/app-passwords/{id}/revoke"),
            vec![("reason", "stolen\0")],
            "The reason cannot contain control characters",
        ),
        (
            format!("{page}/revoke-all"),
            vec![("reason", "stolen\0")],
            "The reason cannot contain control characters",
        ),
        (
            format!("{page}/flags"),
            vec![("flag", "disabled\0"), ("on", "yes")],
            "The setting cannot contain control characters",
        ),
        (
            format!("{page}/flags"),
            vec![("flag", "disabled"), ("on", "yes\0")],
            "The setting cannot contain control characters",
        ),
        (
            "/admin/dovecot/check".to_owned(),
            vec![("server", "Mail\0")],
            "The server cannot contain control characters",
        ),
    ];
    for (path, form, message) in posts {
        let response = admin.post(&page, &path, &form).await;
        refused(response, message, &path).await;
    }
    assert_eq!(app.live_app_passwords().await, 1, "nothing was revoked");
    let disabled = format!("SELECT COUNT(*) FROM users WHERE disabled AND id = {alice_id}");
    assert_eq!(app.count(&disabled).await, 0, "alice is not disabled");
}
both_backends!(admin_fields_refuse_a_nul);

async fn the_check_refuses_a_nul_in_the_server(backend: Backend) {
    let (_app, browser) = app_with_alice(backend).await;
    // The JSON API: problem details naming the field.
    let token = {
        let me: serde_json::Value = browser.get("/api/me").await.json().await.unwrap();
        me["csrf_token"].as_str().unwrap().to_owned()
    };
    let response = browser
        .client
        .post(format!("{}/api/check", browser.base))
        .header("x-csrf-token", &token)
        .json(&serde_json::json!({"server": "Mail\u{0}", "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    refused(
        response,
        "The server cannot contain control characters",
        "/api/check",
    )
    .await;
    // The form's server is a number: anything else is refused before any check runs.
    let response = browser
        .post("/check", "/check", &[("server", "0\0"), ("password", "x")])
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
both_backends!(the_check_refuses_a_nul_in_the_server);

async fn a_new_main_password_with_a_control_character_is_refused(backend: Backend) {
    let (_app, browser) = app_with_alice(backend).await;
    let new = "violet kettle\0marmalade orbit";
    let response = browser.change_password(PASSWORD, new, new, false).await;
    refused(
        response,
        "A password cannot contain control characters",
        "change",
    )
    .await;
    // The old password still works.
    let again = browser.sign_out().await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        browser.sign_in_status(ALICE, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
}
both_backends!(a_new_main_password_with_a_control_character_is_refused);
