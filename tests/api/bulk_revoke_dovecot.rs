//! Bulk revocation against a real Dovecot: the live IMAP sessions of every account it
//! revoked for are closed (the doveadm calls go a few at a time), and their logins fail.

use crate::bulk_revoke::{finished_job, job_field};
use crate::dovecot::DovecotVersion;
use crate::each_dovecot;
use crate::imap_logins::{imaps, kicked, live_session, stack_with_alice};

async fn a_bulk_revocation_closes_the_live_sessions_of_every_account(
    version: DovecotVersion,
    backend: mailkeys_test_support::prelude::Backend,
) {
    let (stack, alice) = stack_with_alice(version, backend).await;
    let mut users = vec![("alice@example.org".to_owned(), alice)];
    for n in 0..11 {
        let email = format!("user{n}@breached.example");
        let browser = stack.app.signed_in(&email).await;
        users.push((email, browser));
    }
    let mut sessions = Vec::new();
    let mut passwords = Vec::new();
    for (email, browser) in &users {
        let created = browser.create_app_password("Phone").await;
        if email.ends_with("@breached.example") {
            let session = live_session(&stack, email, &created.plaintext, "before").await;
            sessions.push(session);
            passwords.push((email.clone(), created.plaintext));
        } else {
            // Outside the filter: keeps working.
            passwords.push((email.clone(), created.plaintext));
        }
    }
    let admin = stack.app.signed_in_admin().await;
    let form = [("domain", "breached.example"), ("reason", "breach drill")];
    let run = admin
        .post("/admin/bulk-revoke", "/admin/bulk-revoke", &form)
        .await;
    let page = finished_job(&admin, run).await;
    assert_eq!(job_field(&page, "revoked"), 11, "{page}");
    assert!(
        page.contains("open IMAP connections of these accounts were closed"),
        "{page}"
    );
    for (n, session) in sessions.iter_mut().enumerate() {
        assert!(kicked(session).await, "user{n}'s live session was dropped");
    }
    for (email, password) in &passwords {
        let login = imaps(&stack, email, password).await;
        if email.ends_with("@breached.example") {
            assert!(login.is_err(), "{email}: refused after the revocation");
        } else {
            assert!(login.is_ok(), "{email}: outside the filter, still works");
        }
    }
}
each_dovecot!(a_bulk_revocation_closes_the_live_sessions_of_every_account);
