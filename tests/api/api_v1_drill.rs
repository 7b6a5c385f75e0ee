//! The compromise drill through the JSON API against a real Dovecot (2.3 and 2.4, both
//! backends): a live IMAP session, one API call, and the session is dropped, every app
//! password refused, the web session gone, with one audit entry naming the token.

use reqwest::StatusCode;
use serde_json::json;

use crate::api_v1::{create_token, Api};
use crate::dovecot::DovecotVersion;
use crate::each_dovecot;
use crate::imap_logins::{imaps, kicked, live_session, stack_with_alice};
use mailkeys_test_support::prelude::*;

async fn a_compromise_drill_through_the_api_against_a_real_dovecot(
    version: DovecotVersion,
    backend: Backend,
) {
    let (stack, alice) = stack_with_alice(version, backend).await;
    let user = "alice@example.org";
    let phone = alice.create_app_password("Phone").await;
    let laptop = alice.create_app_password("Laptop").await;
    let mut session = live_session(&stack, user, &laptop.plaintext, "live session").await;
    session.noop().await.expect("alive before the response");
    let alice_id = stack.app.user_id(user).await;
    let root = stack.app.signed_in_admin().await;
    let token = create_token(&root, "Incident bot", "read-write", "1").await;
    let api = Api::new(&stack.app, Some(&token));

    let before = api.get_json(&format!("/api/v1/accounts/{alice_id}")).await;
    let live = before["app_passwords"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "active")
        .count();
    assert_eq!(live, 2);

    let report = api
        .post_json(
            &format!("/api/v1/accounts/{alice_id}/compromised"),
            &json!({ "reason": "password in a phishing kit" }),
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        report,
        json!({ "app_passwords_revoked": 2, "web_sessions_ended": 1,
                "new_password_required": true, "mail_server": "ended" })
    );
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
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE event = 'account_compromised'")
            .fetch_one(&stack.app.db.pool)
            .await
            .unwrap();
    assert!(detail.contains("password in a phishing kit"), "{detail}");
    assert!(detail.contains("API token “Incident bot”"), "{detail}");
    let after = api.get_json(&format!("/api/v1/accounts/{alice_id}")).await;
    assert_eq!(after["account"]["must_reset"], true);
    assert!(after["app_passwords"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["status"] == "revoked"));
}
each_dovecot!(a_compromise_drill_through_the_api_against_a_real_dovecot);
