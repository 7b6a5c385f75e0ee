//! The compromised-account response, tried as an admin would: one action in the browser (or
//! one command on the host) revokes every app password, ends every web session, requires a
//! new main password and closes live IMAP sessions on a real Dovecot, with one audit entry.

use reqwest::StatusCode;

use crate::cli::mailkeys;
use crate::dovecot::DovecotVersion;
use crate::imap_logins::{imaps, kicked, live_session, stack_with_alice};
use crate::{both_backends, each_dovecot};
use mailkeys_test_support::prelude::*;

fn page_of(alice_id: i64) -> String {
    format!("/admin/users/{alice_id}/compromised")
}

async fn compromise(admin: &Browser, alice_id: i64, form: &[(&str, &str)]) -> (StatusCode, String) {
    let page = page_of(alice_id);
    let response = admin.post(&page, &page, form).await;
    let status = response.status();
    (status, response.text().await.unwrap())
}

async fn audit_count(app: &TestApp, event: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM audit_log WHERE event = '{event}'"
    ))
    .await
}

async fn a_compromise_drill_against_a_real_dovecot(version: DovecotVersion, backend: Backend) {
    let (stack, alice) = stack_with_alice(version, backend).await;
    let user = "alice@example.org";
    let phone = alice.create_app_password("Phone").await;
    let laptop = alice.create_app_password("Laptop").await;
    let mut session = live_session(&stack, user, &laptop.plaintext, "live session").await;
    session.noop().await.expect("alive before the response");
    let alice_id = stack.app.user_id(user).await;
    let admin = stack.app.signed_in_admin().await;

    let confirm = admin.get_text(&page_of(alice_id)).await;
    assert!(confirm.contains("2 in use now"), "{confirm}");
    assert!(confirm.contains("close the account's open IMAP connections"));
    assert_eq!(
        audit_count(&stack.app, "account_compromised").await,
        0,
        "a GET changes nothing"
    );

    let (status, done) = compromise(
        &admin,
        alice_id,
        &[("reason", "password in a phishing kit")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(done.contains("App passwords: 2 revoked."), "{done}");
    assert!(done.contains("Browser sessions: 1 ended."), "{done}");
    assert!(
        done.contains("Dovecot closed this account&#39;s open IMAP connections"),
        "{done}"
    );
    assert!(done.contains("a new one is required"), "{done}");

    assert!(
        kicked(&mut session).await,
        "the live IMAP session was dropped"
    );
    for password in [&phone.plaintext, &laptop.plaintext] {
        assert!(
            imaps(&stack, user, password).await.is_err(),
            "login refused"
        );
    }
    assert_ne!(
        alice.get_status("/").await,
        StatusCode::OK,
        "her web session is gone"
    );
    assert_eq!(audit_count(&stack.app, "account_compromised").await, 1);
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE event = 'account_compromised'")
            .fetch_one(&stack.app.db.pool)
            .await
            .unwrap();
    assert!(detail.contains("password in a phishing kit"), "{detail}");
}
each_dovecot!(a_compromise_drill_against_a_real_dovecot);

async fn after_the_response_the_owner_must_choose_a_new_password_first(backend: Backend) {
    let (app, _alice) = app_with_alice(backend).await;
    let alice_id = app.user_id(ALICE).await;
    let admin = app.signed_in_admin().await;
    let (status, _) = compromise(&admin, alice_id, &[("reason", "leaked")]).await;
    assert_eq!(status, StatusCode::OK);

    // Her old password still signs her in, but only to set a new one.
    let again = app.browser();
    assert_eq!(
        again.sign_in_status(ALICE, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(location(&again.get("/").await), "/account");
    let fields = [
        ("name", "Intruder"),
        ("expires", "never"),
        ("scope", "imap"),
    ];
    let refused = again.post("/account", "/app-passwords", &fields).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.live_app_passwords().await, 0);

    assert_eq!(again.rotate(false).await.status(), StatusCode::SEE_OTHER);
    again.create_app_password("Phone").await;
    assert_eq!(app.live_app_passwords().await, 1);
}
both_backends!(after_the_response_the_owner_must_choose_a_new_password_first);

async fn the_response_needs_a_reason_and_an_old_sign_in_needs_the_admins_password(
    backend: Backend,
) {
    let (app, alice) = app_with_alice(backend).await;
    alice.create_app_password("Phone").await;
    let alice_id = app.user_id(ALICE).await;
    let admin = app.signed_in_admin().await;

    let (status, page) = compromise(&admin, alice_id, &[("reason", "  ")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("Say why"));
    assert_eq!(
        app.live_app_passwords().await,
        1,
        "nothing done without a reason"
    );

    // Six minutes after signing in, the admin's own password is asked for again.
    app.clock.advance(6 * 60);
    assert!(admin
        .get_text(&page_of(alice_id))
        .await
        .contains("Your own password"));
    let (status, _) = compromise(&admin, alice_id, &[("reason", "leaked")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, page) = compromise(
        &admin,
        alice_id,
        &[("reason", "leaked"), ("password", "not my password at all")],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("Nothing was changed") && page.contains("value=\"leaked\""));
    assert_eq!(app.live_app_passwords().await, 1);

    let (status, page) = compromise(
        &admin,
        alice_id,
        &[("reason", "leaked"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(app.live_app_passwords().await, 0);
}
both_backends!(the_response_needs_a_reason_and_an_old_sign_in_needs_the_admins_password);

async fn only_other_admins_can_run_the_response(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    let alice_id = app.user_id(ALICE).await;
    let admin = app.signed_in_admin().await;
    let root_id = app.user_id(ROOT).await;
    let response = alice
        .post("/", &page_of(alice_id), &[("reason", "me")])
        .await;
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "not for non-admins"
    );
    let (status, _) = compromise(&admin, root_id, &[("reason", "me")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not on one's own account");
    assert_eq!(audit_count(&app, "account_compromised").await, 0);
}
both_backends!(only_other_admins_can_run_the_response);

async fn requiring_a_new_password_ends_sessions_and_blocks_new_app_passwords(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    let alice_id = app.user_id(ALICE).await;
    let admin = app.signed_in_admin().await;
    let page = format!("/admin/users/{alice_id}");
    let response = admin
        .post(
            &page,
            &format!("{page}/flags"),
            &[("flag", "must_reset"), ("on", "yes")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_ne!(
        alice.get_status("/").await,
        StatusCode::OK,
        "her session ended"
    );
    let again = app.browser();
    again.sign_in(ALICE, PASSWORD).await;
    let fields = [("name", "Phone"), ("expires", "never"), ("scope", "imap")];
    let refused = again.post("/account", "/app-passwords", &fields).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}
both_backends!(requiring_a_new_password_ends_sessions_and_blocks_new_app_passwords);

/// The operator's commands from the README, as written there.
async fn the_operator_responds_from_the_command_line(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    alice.create_app_password("Phone").await;
    alice.create_app_password("Laptop").await;
    alice.create_app_password("Tablet").await;

    let (ok, out, err) = mailkeys(&app, &["user", "revoke", ALICE, "--name", "Phone"], "");
    assert!(ok && out.contains("Revoked \"Phone\""), "{out}{err}");
    assert_eq!(app.live_app_passwords().await, 2);
    let (ok, out, err) = mailkeys(&app, &["user", "revoke", ALICE, "--name", "Phone"], "");
    assert!(
        !ok && err.contains("no live app password named"),
        "{out}{err}"
    );

    let (ok, out, err) = mailkeys(
        &app,
        &[
            "user",
            "compromised",
            ALICE,
            "--reason",
            "seen on a paste site",
        ],
        "",
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("app passwords revoked: 2"), "{out}");
    assert!(out.contains("browser sessions ended: 1"), "{out}");
    assert!(out.contains("doveadm_url is not configured"), "{out}");
    assert_eq!(app.live_app_passwords().await, 0);
    assert_ne!(alice.get_status("/").await, StatusCode::OK);
    let actor: Option<i64> = sqlx::query_scalar(
        "SELECT actor_user_id FROM audit_log WHERE event = 'account_compromised'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(actor, None, "the command line is no person");

    let (ok, out, err) = mailkeys(&app, &["user", "disable", ALICE], "");
    assert!(ok && out.contains("Disabled"), "{out}{err}");
    assert_ne!(
        app.browser().sign_in_status(ALICE, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    let (ok, out, err) = mailkeys(&app, &["user", "enable", ALICE], "");
    assert!(ok && out.contains("Enabled"), "{out}{err}");
    assert_eq!(
        app.browser().sign_in_status(ALICE, PASSWORD).await,
        StatusCode::SEE_OTHER
    );

    let (ok, _, err) = mailkeys(
        &app,
        &["user", "compromised", "nobody@example.org", "--reason", "x"],
        "",
    );
    assert!(!ok && err.contains("no account"), "{err}");
}
both_backends!(the_operator_responds_from_the_command_line);

/// Revoke all, end sessions, disable and require a new password go through a confirmation
/// page; more than five minutes after the admin's sign-in the action itself wants the
/// admin's password again, and changes nothing without it.
async fn destructive_actions_are_confirmed_and_rechecked(backend: Backend) {
    let (app, alice) = app_with_alice(backend).await;
    alice.create_app_password("Phone").await;
    let alice_id = app.user_id(ALICE).await;
    let admin = app.signed_in_admin().await;
    let page = format!("/admin/users/{alice_id}");
    let user_page = admin.get_text(&page).await;
    for action in ["revoke-all", "end-sessions", "disable", "require-reset"] {
        let confirm = format!("{page}/confirm/{action}");
        assert!(
            user_page.contains(&format!("href=\"{confirm}\"")),
            "{action}"
        );
        let form = admin.get_text(&confirm).await;
        assert!(form.contains("method=\"post\""), "{action}: {form}");
        assert!(
            !form.contains("name=\"password\""),
            "recent sign-in: {action}"
        );
    }
    assert!(!user_page.contains(&format!("action=\"{page}/revoke-all\"")));

    app.clock.advance(6 * 60);
    let confirm = format!("{page}/confirm/revoke-all");
    assert!(admin.get_text(&confirm).await.contains("name=\"password\""));
    let target = format!("{page}/revoke-all");
    let refused = admin.post(&confirm, &target, &[("reason", "x")]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let refused = admin
        .post(&confirm, &target, &[("password", "not my password")])
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("Nothing was changed"));
    let flags = format!("{page}/flags");
    let refused = admin
        .post(&page, &flags, &[("flag", "disabled"), ("on", "yes")])
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.live_app_passwords().await, 1, "nothing changed");
    assert_eq!(alice.get_status("/").await, StatusCode::OK);

    let done = admin
        .post(&confirm, &target, &[("password", PASSWORD)])
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.live_app_passwords().await, 0);
    // Switching a restriction off is not destructive: no password needed.
    let lifted = admin
        .post(
            &page,
            &flags,
            &[("flag", "main_imap_blocked"), ("on", "no")],
        )
        .await;
    assert_eq!(lifted.status(), StatusCode::SEE_OTHER);
}
both_backends!(destructive_actions_are_confirmed_and_rechecked);

/// The owner is told by mail that an admin revoked their app passwords.
async fn the_owner_is_told_of_the_response(backend: Backend) {
    let (app, _sink) = crate::notices::app_and_sink(backend).await;
    app.add_user(ALICE, PASSWORD, false).await;
    let alice = app.browser();
    alice.sign_in(ALICE, PASSWORD).await;
    alice.create_app_password("Phone").await;
    let alice_id = app.user_id(ALICE).await;
    let admin = app.signed_in_admin().await;
    let (status, _) = compromise(&admin, alice_id, &[("reason", "leaked")]).await;
    assert_eq!(status, StatusCode::OK);
    let queued = crate::notices::queued(&app, "all_app_passwords_revoked_by_admin").await;
    assert_eq!(queued, 1);
}
both_backends!(the_owner_is_told_of_the_response);
