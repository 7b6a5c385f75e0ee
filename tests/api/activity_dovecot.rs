//! The login history from a real Dovecot: its policy reports after real IMAP logins land in
//! `imap_logins` and on the account's admin page.

use std::time::Duration;

use crate::dovecot::DovecotVersion;
use crate::each_dovecot;
use crate::imap_logins::{source_ip, stack_with_alice};
use mailkeys_test_support::prelude::*;

/// `(credential_id, ip, protocol, succeeded)` of the logins recorded from `ip`, once `n`
/// have arrived (reports come after the login, asynchronously).
async fn logins_from(app: &TestApp, ip: &str, n: usize) -> Vec<(Option<i64>, String, String, i64)> {
    let mut rows = Vec::new();
    for _ in 0..50 {
        rows = sqlx::query_as(
            "SELECT credential_id, ip, protocol, CASE WHEN succeeded THEN 1 ELSE 0 END \
             FROM imap_logins WHERE ip = $1 ORDER BY id",
        )
        .bind(ip)
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
        if rows.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rows
}

async fn real_logins_are_in_the_history_and_on_the_users_page(
    version: DovecotVersion,
    backend: Backend,
) {
    let (stack, browser) = stack_with_alice(version, backend).await;
    let created = browser.create_app_password("Phone").await;
    let id = app_password_id(&stack.app, &created.plaintext[..6]).await;
    let good = source_ip();
    stack
        .dovecot
        .imaps_login(&good, ALICE, &created.plaintext)
        .await
        .expect("login");
    let bad = source_ip();
    let _ = stack
        .dovecot
        .imaps_login(&bad, ALICE, "not-a-password")
        .await;
    let ok = logins_from(&stack.app, &good, 1).await;
    assert_eq!(
        ok,
        vec![(Some(id), good.clone(), "imap".to_owned(), 1)],
        "{}",
        stack.dovecot.log()
    );
    let failed = logins_from(&stack.app, &bad, 1).await;
    assert_eq!(failed, vec![(None, bad.clone(), "imap".to_owned(), 0)]);
    let user_id: Option<i64> = sqlx::query_scalar("SELECT MIN(user_id) FROM imap_logins")
        .fetch_one(&stack.app.db.pool)
        .await
        .unwrap();
    assert_eq!(user_id, Some(stack.app.user_id(ALICE).await));

    let admin = stack.app.signed_in_admin().await;
    let page = admin
        .get_text(&format!("/admin/users/{}", stack.app.user_id(ALICE).await))
        .await;
    let section = &page[page.find("id=\"recent-logins\"").expect("the section")..];
    assert!(
        section.contains(&good) && section.contains("app password “Phone”"),
        "{section}"
    );
    assert!(section.contains(&bad), "{section}");
    let activity = admin.get_text("/admin/activity").await;
    assert!(
        activity.contains(&format!("<code>{bad}</code>")),
        "the failing address"
    );
}
each_dovecot!(real_logins_are_in_the_history_and_on_the_users_page);
