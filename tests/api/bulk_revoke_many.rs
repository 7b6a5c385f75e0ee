//! A bulk revocation across many accounts: a batch of 500 credentials of 500 different
//! accounts writes its 500 audit entries in one statement, on both backends.

use crate::both_backends;
use crate::bulk_revoke::{finished_job, job_field};
use mailkeys_test_support::prelude::*;

const ACCOUNTS: i64 = 600;

/// `ACCOUNTS` accounts of `many.example`, each with one live app password, inserted directly
/// (nothing here logs in).
async fn many_accounts(app: &TestApp) {
    let mut tx = app.db.begin().await.unwrap();
    let now = app.clock_now();
    for i in 0..ACCOUNTS {
        let user: i64 = sqlx::query_scalar(
            "INSERT INTO users (email, password_hash, created_at, password_changed_at) \
             VALUES ($1, 'x', $2, $2) RETURNING id",
        )
        .bind(format!("user{i}@many.example"))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO app_passwords (user_id, name, lookup_id, password_hash, created_at) \
             VALUES ($1, 'Phone', $2, 'x', $3)",
        )
        .bind(user)
        .bind(format!("mn{i:04}"))
        .bind(now)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn each_account_of_a_large_batch_gets_its_own_audit_entry(backend: Backend) {
    let app = spawn_app(backend).await;
    many_accounts(&app).await;
    let admin = app.signed_in_admin().await;
    let form = [("domain", "many.example"), ("reason", "breach")];
    let run = admin
        .post("/admin/bulk-revoke", "/admin/bulk-revoke", &form)
        .await;
    let done = finished_job(&admin, run).await;
    assert_eq!(job_field(&done, "revoked"), ACCOUNTS);
    assert_eq!(job_field(&done, "accounts"), ACCOUNTS);
    assert_eq!(job_field(&done, "batches"), 2, "500, then 100");
    let entries = "SELECT COUNT(*) FROM audit_log a JOIN users u ON u.id = a.subject_user_id \
                   WHERE a.event = 'all_app_passwords_revoked' AND u.email LIKE '%@many.example' \
                   AND a.detail = '1 revoked in a bulk revocation, reason \"breach\"'";
    assert_eq!(app.count(entries).await, ACCOUNTS, "one entry per account");
    let distinct = "SELECT COUNT(DISTINCT subject_user_id) FROM audit_log \
                    WHERE event = 'all_app_passwords_revoked'";
    assert_eq!(app.count(distinct).await, ACCOUNTS, "each its own account");
    let actors = "SELECT COUNT(*) FROM audit_log WHERE event = 'all_app_passwords_revoked' \
                  AND actor_user_id IS NULL";
    assert_eq!(app.count(actors).await, 0, "each names the admin");
    assert_eq!(app.live_app_passwords().await, 0);
}
both_backends!(each_account_of_a_large_batch_gets_its_own_audit_entry);
