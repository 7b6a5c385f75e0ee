//! What guards the second factor, over HTTP on both backends: wrong codes share the
//! sign-in lock, re-authentication before creating a credential or removing a factor, the
//! admin reset, and `require_second_factor`. Helpers are in second_factor.rs.

use mailkeys::domain::lockout::FREE_FAILURES;
use reqwest::StatusCode;

use super::second_factor::{app, code_at, enrol_totp, give_code, location, sign_in_pending, PAGE};
use crate::both_backends;
use mailkeys_test_support::prelude::*;

async fn wrong_codes_lock_the_account_and_a_locked_account_gets_no_verdict(backend: Backend) {
    let (app, alice) = app(backend).await.and_alice().await;
    let enrolled = enrol_totp(&app, &alice).await;
    let browser = app.browser();
    sign_in_pending(&browser).await;
    let mut statuses = Vec::new();
    for _ in 0..FREE_FAILURES {
        statuses.push(give_code(&browser, "000000").await);
    }
    assert!(statuses[..statuses.len() - 1]
        .iter()
        .all(|s| *s == StatusCode::UNAUTHORIZED));
    let right = code_at(&enrolled.secret, app.clock_now());
    assert_eq!(
        give_code(&browser, &right).await,
        StatusCode::TOO_MANY_REQUESTS,
        "locked: even the right code gets no verdict"
    );
    assert_eq!(
        app.browser().sign_in_status(ALICE, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the password step shares the lock"
    );
    app.clock.advance(31);
    let later = code_at(&enrolled.secret, app.clock_now());
    assert_eq!(give_code(&browser, &later).await, StatusCode::SEE_OTHER);
}
both_backends!(wrong_codes_lock_the_account_and_a_locked_account_gets_no_verdict);

async fn a_right_password_does_not_reset_the_count_of_wrong_codes(backend: Backend) {
    let (app, alice) = app(backend).await.and_alice().await;
    enrol_totp(&app, &alice).await;
    for _ in 0..FREE_FAILURES {
        let browser = app.browser();
        sign_in_pending(&browser).await;
        give_code(&browser, "000000").await;
    }
    let browser = app.browser();
    assert_eq!(
        browser.sign_in_status(ALICE, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}
both_backends!(a_right_password_does_not_reset_the_count_of_wrong_codes);

async fn creating_an_app_password_long_after_sign_in_asks_for_the_factor_again(backend: Backend) {
    let (app, alice) = app(backend).await.and_alice().await;
    let enrolled = enrol_totp(&app, &alice).await;
    alice.create_app_password("fresh").await;
    app.clock.advance(app.settings.reauth_after_secs + 1);
    let fields = [("name", "later"), ("expires", "never"), ("scope", "imap")];
    let asked = alice.create_app_password_with(&fields).await;
    assert_eq!(asked.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&asked), "/reauth?then=dashboard");
    assert_eq!(app.live_app_passwords().await, 1, "nothing created");
    let wrong = alice
        .post(
            "/reauth?then=dashboard",
            "/reauth",
            &[("code", "000000"), ("then", "dashboard")],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let code = code_at(&enrolled.secret, app.clock_now());
    let back = alice
        .post(
            "/reauth?then=dashboard",
            "/reauth",
            &[("code", &code), ("then", "dashboard")],
        )
        .await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&back), "/");
    alice.create_app_password_from(&fields).await;
    app.assert_audited(ALICE, "reauthenticated").await;
}
both_backends!(creating_an_app_password_long_after_sign_in_asks_for_the_factor_again);

async fn an_admin_reset_removes_every_factor_audited_with_the_admin_as_actor(backend: Backend) {
    let (app, alice) = app(backend).await.and_alice().await;
    enrol_totp(&app, &alice).await;
    let admin_id = app.add_user("root@example.org", PASSWORD, true).await;
    let admin = app.browser();
    admin.sign_in("root@example.org", PASSWORD).await;
    let alice_id = app.user_id(ALICE).await;
    let user_page = admin.get_text(&format!("/admin/users/{alice_id}")).await;
    assert!(user_page.contains(r#"<span id="second-factor">authenticator app</span>"#));
    let confirm = format!("/admin/users/{alice_id}/second-factor/reset");
    let page = admin.get_text(&confirm).await;
    assert!(page.contains("the authenticator app"), "{page}");
    assert_eq!(
        alice.get_status(&confirm).await,
        StatusCode::NOT_FOUND,
        "not for non-admins"
    );
    let reset = admin.post(&confirm, &confirm, &[]).await;
    assert_eq!(reset.status(), StatusCode::SEE_OTHER);
    let actor: i64 = sqlx::query_scalar(
        "SELECT actor_user_id FROM audit_log WHERE event = 'second_factors_reset_by_admin' \
         AND subject_user_id = $1",
    )
    .bind(alice_id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(actor, admin_id);
    let fresh = app.browser();
    let signed_in = fresh.sign_in(ALICE, PASSWORD).await;
    assert_eq!(
        location(&signed_in),
        "/",
        "the password alone signs in again"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM recovery_codes").await, 0);
    let user_page = admin.get_text(&format!("/admin/users/{alice_id}")).await;
    assert!(user_page.contains(r#"<span id="second-factor">none</span>"#));
}
both_backends!(an_admin_reset_removes_every_factor_audited_with_the_admin_as_actor);

async fn an_admin_reset_long_after_sign_in_wants_the_admins_password(backend: Backend) {
    let (app, alice) = app(backend).await.and_alice().await;
    enrol_totp(&app, &alice).await;
    let admin = app.signed_in_admin().await;
    let alice_id = app.user_id(ALICE).await;
    let confirm = format!("/admin/users/{alice_id}/second-factor/reset");
    app.clock.advance(6 * 60);
    let page = admin.get_text(&confirm).await;
    assert!(page.contains("Your own password"), "{page}");
    let refused = admin.post(&confirm, &confirm, &[]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "no password given");
    let wrong = admin
        .post(&confirm, &confirm, &[("password", "not the password")])
        .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN, "a wrong password");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM totp_secrets").await,
        1,
        "nothing removed yet"
    );
    let done = admin
        .post(&confirm, &confirm, &[("password", PASSWORD)])
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT COUNT(*) FROM totp_secrets").await, 0);
}
both_backends!(an_admin_reset_long_after_sign_in_wants_the_admins_password);

async fn an_admin_cannot_reset_another_admins_second_factors(backend: Backend) {
    let app = app(backend).await;
    let _superadmin = app.signed_in_admin().await;
    let peer = app.signed_in_as("peer-admin@example.org", true).await;
    enrol_totp(&app, &peer).await;
    let admin = app.signed_in_as("admin@example.org", true).await;
    let peer_id = app.user_id("peer-admin@example.org").await;
    let confirm = format!("/admin/users/{peer_id}/second-factor/reset");
    let refused = admin.post(&confirm, &confirm, &[]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.text().await.unwrap().contains("Only a superadmin"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM totp_secrets").await,
        1,
        "the other admin keeps the authenticator app"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE event = 'second_factors_reset_by_admin'")
            .await,
        0
    );
}
both_backends!(an_admin_cannot_reset_another_admins_second_factors);

async fn an_admin_with_a_second_factor_gives_it_again_before_a_destructive_action(
    backend: Backend,
) {
    let app = app(backend).await;
    let admin = app.signed_in_admin().await;
    let enrolled = enrol_totp(&app, &admin).await;
    let alice = app.signed_in(ALICE).await;
    alice.create_app_password("Phone").await;
    let alice_id = app.user_id(ALICE).await;
    let confirm = format!("/admin/users/{alice_id}/confirm/revoke-all");
    let action = format!("/admin/users/{alice_id}/revoke-all");

    app.clock.advance(6 * 60);
    let page = admin.get_text(&confirm).await;
    assert!(page.contains(r#"href="/reauth?then=admin""#), "{page}");
    let refused = admin
        .post(&confirm, &action, &[("password", PASSWORD)])
        .await;
    assert_eq!(
        refused.status(),
        StatusCode::FORBIDDEN,
        "the password alone"
    );
    assert!(refused.text().await.unwrap().contains("second factor"));
    assert_eq!(app.live_app_passwords().await, 1, "nothing revoked");

    let code = code_at(&enrolled.secret, app.clock_now());
    let back = admin
        .post(
            "/reauth?then=admin",
            "/reauth",
            &[("code", &code), ("then", "admin")],
        )
        .await;
    assert_eq!(location(&back), "/admin");
    let page = admin.get_text(&confirm).await;
    assert!(!page.contains("give it again"), "{page}");
    let done = admin
        .post(&confirm, &action, &[("password", PASSWORD)])
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.live_app_passwords().await, 0);
}
both_backends!(an_admin_with_a_second_factor_gives_it_again_before_a_destructive_action);

async fn required_for_admins_an_admin_without_a_factor_can_only_enrol(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.require_second_factor = mailkeys::domain::second_factor::RequireSecondFactor::Admins;
    })
    .await;
    app.add_user("root@example.org", PASSWORD, true).await;
    let admin = app.browser();
    admin.sign_in("root@example.org", PASSWORD).await;
    for path in ["/", "/admin", "/account"] {
        let response = admin.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), PAGE, "{path}");
    }
    let create = admin
        .post(
            PAGE,
            "/app-passwords",
            &[("name", "x"), ("expires", "never"), ("scope", "imap")],
        )
        .await;
    assert_eq!(location(&create), PAGE);
    let (app, alice) = app.and_alice().await;
    alice
        .assert_status("/", StatusCode::OK, "not an admin")
        .await;
    enrol_totp(&app, &admin).await;
    admin
        .assert_status("/admin", StatusCode::OK, "enrolled")
        .await;
}
both_backends!(required_for_admins_an_admin_without_a_factor_can_only_enrol);

async fn removing_the_app_long_after_sign_in_asks_for_the_factor_again(backend: Backend) {
    let (app, alice) = app(backend).await.and_alice().await;
    let enrolled = enrol_totp(&app, &alice).await;
    app.clock.advance(app.settings.reauth_after_secs + 1);
    let remove = "/account/second-factor/totp/remove";
    let asked = alice.post(PAGE, remove, &[]).await;
    assert_eq!(location(&asked), "/reauth?then=security");
    let code = code_at(&enrolled.secret, app.clock_now());
    let back = alice
        .post(
            "/reauth?then=security",
            "/reauth",
            &[("code", &code), ("then", "security")],
        )
        .await;
    assert_eq!(location(&back), PAGE);
    let removed = alice.post(PAGE, remove, &[]).await;
    assert_eq!(location(&removed), PAGE);
    app.assert_audited(ALICE, "second_factor_removed").await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM recovery_codes").await,
        0,
        "no factor left: the recovery codes go too"
    );
    let fresh = app.browser();
    assert_eq!(location(&fresh.sign_in(ALICE, PASSWORD).await), "/");
}
both_backends!(removing_the_app_long_after_sign_in_asks_for_the_factor_again);

/// `require_second_factor = "everyone"`: a plain user without a factor can only enrol, and
/// can use the service once enrolled.
async fn required_for_everyone_a_user_without_a_factor_can_only_enrol(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.require_second_factor = mailkeys::domain::second_factor::RequireSecondFactor::Everyone;
    })
    .await;
    let (app, alice) = app.and_alice().await;
    for path in ["/", "/account", "/check"] {
        let response = alice.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), PAGE, "{path}");
    }
    enrol_totp(&app, &alice).await;
    alice.assert_status("/", StatusCode::OK, "enrolled").await;
}
both_backends!(required_for_everyone_a_user_without_a_factor_can_only_enrol);
