//! Main-password rotation and the main-password IMAP setting.

use reqwest::StatusCode;

use crate::both_backends;
use mailkeys_test_support::prelude::*;

async fn rotation_signs_out_other_sessions_and_retires_the_old_password(backend: Backend) {
    let (app, here) = app_with_alice(backend).await;
    let elsewhere = app.browser();
    assert_eq!(
        elsewhere.sign_in_status(ALICE, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    let kept = here.create_app_password("Phone").await;

    let response = here.rotate(false).await;
    assert_eq!(location(&response), "/account?done=password&sessions=kept");
    here.assert_status("/", StatusCode::OK, "the session that rotated stays")
        .await;
    assert_eq!(
        location(&elsewhere.get("/").await),
        "/sign-in?ended=true",
        "every other session ends"
    );

    let fresh = app.browser();
    assert_eq!(
        fresh.sign_in_status(ALICE, PASSWORD).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        fresh.sign_in_status(ALICE, NEW_PASSWORD).await,
        StatusCode::SEE_OTHER
    );

    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM app_passwords WHERE revoked_at IS NULL AND lookup_id = $1",
    )
    .bind(&kept.plaintext[..6])
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(live, 1, "app passwords stay unless asked");
    app.assert_audited(ALICE, "password_changed").await;
}
both_backends!(rotation_signs_out_other_sessions_and_retires_the_old_password);

async fn rotation_can_revoke_every_app_password_at_once(backend: Backend) {
    let (app, browser) = app_with_alice(backend).await;
    for name in ["Phone", "Laptop"] {
        browser.create_app_password(name).await;
    }
    let response = browser.rotate(true).await;
    assert_eq!(
        location(&response),
        "/account?done=password-and-revoked&sessions=kept"
    );
    let live = app.live_app_passwords().await;
    assert_eq!(live, 0);
    let reason: String = sqlx::query_scalar("SELECT revoked_reason FROM app_passwords LIMIT 1")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(reason, "main password rotated");
}
both_backends!(rotation_can_revoke_every_app_password_at_once);

async fn bad_rotations_are_refused_with_a_message_and_change_nothing(backend: Backend) {
    let (app, browser) = app_with_alice(backend).await;
    let too_long = "ab1-".repeat(257);
    let cases: [(&str, &str, &str, &str); 6] = [
        (
            "wrong current pw",
            NEW_PASSWORD,
            NEW_PASSWORD,
            "current password is incorrect",
        ),
        (
            PASSWORD,
            PASSWORD,
            PASSWORD,
            "must differ from the current one",
        ),
        (
            PASSWORD,
            NEW_PASSWORD,
            "something else entirely",
            "two new passwords differ",
        ),
        (PASSWORD, "Sh0rt!pw", "Sh0rt!pw", "at least 12 characters"),
        (PASSWORD, "password1234", "password1234", "too common"),
        (PASSWORD, &too_long, &too_long, "at most 1024 characters"),
    ];
    for (current, new, confirm, message) in cases {
        let response = browser.change_password(current, new, confirm, true).await;
        let page = refused_page(response, message, message).await;
        assert!(
            !page.contains(new) || new == PASSWORD,
            "passwords are never echoed"
        );
    }
    assert_eq!(
        app.browser().sign_in_status(ALICE, PASSWORD).await,
        StatusCode::SEE_OTHER,
        "password unchanged"
    );
    app.assert_audited(ALICE, "password_change_failed").await;
}
both_backends!(bad_rotations_are_refused_with_a_message_and_change_nothing);

async fn the_main_password_imap_setting_is_saved(backend: Backend) {
    let (app, browser) = app_with_alice(backend).await;
    let allowed = || async {
        let v: i64 =
            sqlx::query_scalar("SELECT CASE WHEN main_imap_allowed THEN 1 ELSE 0 END FROM users")
                .fetch_one(&app.db.pool)
                .await
                .unwrap();
        v == 1
    };
    assert!(!allowed().await, "off by default");
    assert_eq!(
        location(&browser.set_main_imap(true).await),
        "/account?done=imap&sessions=kept"
    );
    assert!(allowed().await);
    assert!(browser.get_text("/account").await.contains("checked"));
    browser.set_main_imap(false).await;
    assert!(!allowed().await);
}
both_backends!(the_main_password_imap_setting_is_saved);
