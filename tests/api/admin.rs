//! The admin area: only admins get in, and they can shut a compromised account down fast.

use reqwest::StatusCode;

use crate::both_backends;
use mailkeys_test_support::prelude::*;

/// Sets (`on`) or clears the account flag `flag` from the admin page `page` of a user.
async fn set_flag(admin: &Browser, page: &str, flag: &str, on: bool) -> reqwest::Response {
    let on = if on { "yes" } else { "no" };
    admin
        .post(
            page,
            &format!("{page}/flags"),
            &[("flag", flag), ("on", on)],
        )
        .await
}

async fn only_admins_see_the_admin_area(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    let alice_id = app.user_id(ALICE).await;
    assert_eq!(alice.get_status("/admin").await, StatusCode::NOT_FOUND);
    assert_eq!(
        alice.get_status(&format!("/admin/users/{alice_id}")).await,
        StatusCode::NOT_FOUND
    );
    let response = alice
        .post(
            "/",
            &format!("/admin/users/{alice_id}/flags"),
            &[("flag", "must_reset"), ("on", "yes")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(!alice.get_text("/").await.contains(r#"href="/admin""#));

    let admin = app.signed_in_admin().await;
    let overview = admin.get_text("/admin").await;
    assert!(overview.contains(ALICE) && overview.contains("root@example.org"));
}
both_backends!(only_admins_see_the_admin_area);

async fn an_admin_shuts_down_a_compromised_account(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    alice.create_app_password("Phone").await;
    alice.create_app_password("Laptop").await;
    let alice_id = app.user_id(ALICE).await;
    let admin = app.signed_in_admin().await;
    let page = format!("/admin/users/{alice_id}");

    let response = admin
        .post(
            &page,
            &format!("{page}/revoke-all"),
            &[("reason", "phished")],
        )
        .await;
    assert_eq!(
        location(&response),
        format!("{page}?done=revoked-all&sessions=kept")
    );
    let live = app.live_app_passwords().await;
    assert_eq!(live, 0);
    let admin_id = app.user_id("root@example.org").await;
    let revoked_by: i64 = sqlx::query_scalar("SELECT revoked_by FROM app_passwords LIMIT 1")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(revoked_by, admin_id, "the admin is recorded as the revoker");

    admin
        .post(&page, &format!("{page}/end-sessions"), &[])
        .await;
    assert_eq!(
        location(&alice.get("/").await),
        "/sign-in?ended=true",
        "alice's session was ended"
    );

    set_flag(&admin, &page, "disabled", true).await;
    assert_eq!(
        app.browser().sign_in_status(ALICE, PASSWORD).await,
        StatusCode::UNAUTHORIZED
    );
    set_flag(&admin, &page, "disabled", false).await;
    assert_eq!(
        app.browser().sign_in_status(ALICE, PASSWORD).await,
        StatusCode::SEE_OTHER
    );

    let events = app.audit_events(alice_id).await;
    for expected in [
        "all_app_passwords_revoked",
        "sessions_ended",
        "account_disabled",
        "account_enabled",
    ] {
        assert!(
            events.contains(&expected.to_owned()),
            "{expected} in {events:?}"
        );
    }
    let actor: Option<i64> =
        sqlx::query_scalar("SELECT actor_user_id FROM audit_log WHERE event = 'account_disabled'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(actor, Some(admin_id));
}
both_backends!(an_admin_shuts_down_a_compromised_account);

async fn a_required_reset_sends_the_user_to_choose_a_new_password(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    let alice_id = app.user_id(ALICE).await;
    let admin = app.signed_in_admin().await;
    let page = format!("/admin/users/{alice_id}");
    set_flag(&admin, &page, "must_reset", true).await;

    // Requiring a new password ends her sessions (issue 11): she signs in again, and is sent
    // to choose one.
    assert_eq!(location(&alice.get("/").await), "/sign-in?ended=true");
    assert_eq!(
        alice.sign_in_status(ALICE, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(location(&alice.get("/").await), "/account");
    assert!(alice
        .get_text("/account")
        .await
        .contains("asks you to choose a new password"));
    alice.rotate(false).await;
    alice
        .assert_status("/", StatusCode::OK, "the requirement is met")
        .await;
}
both_backends!(a_required_reset_sends_the_user_to_choose_a_new_password);

async fn an_admin_cannot_disable_their_own_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.signed_in_admin().await;
    let id = app.user_id("root@example.org").await;
    let page = format!("/admin/users/{id}");
    let response = set_flag(&admin, &page, "disabled", true).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(admin.get_status("/admin").await, StatusCode::OK);
}
both_backends!(an_admin_cannot_disable_their_own_account);
