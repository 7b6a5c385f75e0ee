//! Faults: the database going away, locked or full; concurrent changes; a crash mid-change;
//! two instances sharing one PostgreSQL.

use std::time::Duration;

use reqwest::StatusCode;
use sqlx::Connection;

use crate::both_backends;
use mailkeys_test_support::prelude::*;

async fn live_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM app_passwords WHERE revoked_at IS NULL")
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

fn database_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_gives_503_changes_nothing_and_recovers() {
    let app = spawn_app(Backend::Postgres).await;
    let browser = app.signed_in(ALICE).await;
    browser.create_app_password("Phone").await;
    let dashboard_csrf = csrf_in(&browser.get_text("/").await);

    let name = database_name(&app.database_url).to_owned();
    let mut admin = sqlx::PgConnection::connect(&postgres_admin_url())
        .await
        .unwrap();
    sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&name)
        .execute(&mut admin)
        .await
        .unwrap();

    let down = browser
        .post_raw("/app-passwords/revoke-all", &[("csrf", &dashboard_csrf)])
        .await;
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(down.headers().get("content-security-policy").is_some());
    assert!(down
        .text()
        .await
        .unwrap()
        .contains("cannot reach its database"));

    sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut recovered = false;
    for _ in 0..50 {
        if browser.get_status("/").await == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "the service recovers by itself once the database is back"
    );
    assert_eq!(
        live_count(&app).await,
        1,
        "the refused revoke-all changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_sqlite_database_gives_503_and_changes_nothing() {
    let app = spawn_app(Backend::Sqlite).await;
    let browser = app.signed_in(ALICE).await;
    let csrf = csrf_in(&browser.get_text("/").await);

    let mut locker = sqlx::SqliteConnection::connect(&app.database_url)
        .await
        .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut locker)
        .await
        .unwrap();
    let response = browser
        .post_raw(
            "/app-passwords",
            &[("csrf", &csrf), ("name", "Phone"), ("expires", "never")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();

    assert_eq!(live_count(&app).await, 0);
    browser.create_app_password("Phone").await;
}

/// SQLite on a full disk: a 1 MiB tmpfs, filled up. The app must report failure and never
/// claim a success it did not store. Needs root for `mount`, which the test script has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_on_a_full_disk_reports_failure_never_false_success() {
    let mount = tempfile::tempdir().unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(mount.path())
        .status()
        .expect("mount runs");
    assert!(
        mounted.success(),
        "mounting a tmpfs needs root; scripts/test runs as root"
    );
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            // Lazy: the app under test may still hold the file open until the runtime ends.
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.0)
                .status();
        }
    }
    let _unmount = Unmount(mount.path().to_owned());

    let db_path = mount.path().join("mailkeys.db");
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.database_url = format!("sqlite://{}", db_path.display())
    })
    .await;
    let browser = app.signed_in(ALICE).await;
    let filler = mount.path().join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 2 * 1024 * 1024]);

    let mut refused = 0;
    for n in 0..40 {
        let name = format!("Device {n} {}", "x".repeat(40));
        let response = browser
            .create_app_password_with(&[("name", &name), ("expires", "never")])
            .await;
        match response.status() {
            StatusCode::SEE_OTHER => {
                let stored: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM app_passwords WHERE name = $1")
                        .bind(&name)
                        .fetch_one(&app.db.pool)
                        .await
                        .unwrap_or(1);
                assert_eq!(stored, 1, "a reported success must be stored");
            }
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::INTERNAL_SERVER_ERROR => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(refused > 0, "the disk filled up and the app said so");
}

async fn concurrent_creates_and_revokes_stay_consistent(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = std::sync::Arc::new(app.signed_in(ALICE).await);
    let mut tasks = Vec::new();
    for n in 0..12 {
        let browser = browser.clone();
        tasks.push(tokio::spawn(async move {
            if n % 3 == 0 {
                browser.revoke_all().await.status()
            } else {
                browser
                    .create_app_password_with(&[("name", "Same name"), ("expires", "never")])
                    .await
                    .status()
            }
        }));
    }
    for task in tasks {
        let status = task.await.unwrap();
        assert!(
            [
                StatusCode::SEE_OTHER,
                StatusCode::UNPROCESSABLE_ENTITY,
                StatusCode::SERVICE_UNAVAILABLE
            ]
            .contains(&status),
            "{status}"
        );
    }
    assert!(
        live_count(&app).await <= 1,
        "never two live passwords with one name"
    );
    let rows = app.count("SELECT COUNT(*) FROM app_passwords").await;
    let created = app
        .count("SELECT COUNT(*) FROM audit_log WHERE event = 'app_password_created'")
        .await;
    assert_eq!(
        rows, created,
        "every stored password has its audit row and no more"
    );
}
both_backends!(concurrent_creates_and_revokes_stay_consistent);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_share_sessions_locks_and_revocations() {
    let first = spawn_app(Backend::Postgres).await;
    let second = spawn_app_with(Backend::Postgres, |s| {
        s.database_url = first.database_url.clone()
    })
    .await;
    let browser = first.signed_in(ALICE).await;
    let created = browser.create_app_password("Phone").await;

    // Cookies are not port-bound, so the same browser presents its session to both.
    let on_second = Browser {
        client: browser.client.clone(),
        base: format!("http://{}", second.addr),
    };
    on_second
        .assert_status(
            "/",
            StatusCode::OK,
            "a session made on one is honoured by the other",
        )
        .await;
    let id = app_password_id(&first, &created.plaintext[..6]).await;
    assert_eq!(
        on_second.revoke(id, "via the second").await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(
        browser.get_text("/?past=1").await.contains("badge revoked"),
        "the first sees the revocation"
    );

    let attacker = first.browser();
    for _ in 0..mailkeys::domain::lockout::FREE_FAILURES {
        attacker.sign_in(ALICE, "wrong").await;
    }
    let elsewhere = second.browser();
    assert_eq!(
        elsewhere.sign_in_status(ALICE, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the lock holds on the other instance"
    );
}

/// `kill -9` while revoke-all runs: the revocation is one statement in one transaction, so
/// after the crash either every password is revoked or none is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_during_revoke_all_leaves_all_or_none_revoked() {
    for delay_ms in [0u64, 2, 5, 10, 20] {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("crash.db").display());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let app = spawn_app_with(Backend::Sqlite, |s| s.database_url = url.clone()).await;
        let user = app.add_user(ALICE, PASSWORD, false).await;
        let mut tx = app.db.pool.begin().await.unwrap();
        for n in 0..3000 {
            sqlx::query("INSERT INTO app_passwords (user_id, name, lookup_id, password_hash, created_at) VALUES ($1, $2, $3, 'x', 0)")
                .bind(user)
                .bind(format!("p{n}"))
                .bind(format!("{n:06}"))
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();

        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mailkeys"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", &url)
            .env("MAILKEYS_HASH_MAIN_MEMORY_KIB", "1024")
            .env("MAILKEYS_HASH_MAIN_ITERATIONS", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let browser = Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: format!("http://127.0.0.1:{port}"),
        };
        let up = browser.wait_until_answering("/healthz").await;
        assert!(up, "the server started");
        assert_eq!(
            browser.sign_in_status(ALICE, PASSWORD).await,
            StatusCode::SEE_OTHER
        );
        let csrf = csrf_in(&browser.get_text("/").await);
        let request = browser
            .client
            .post(format!("{}/app-passwords/revoke-all", browser.base))
            .form(&[("csrf", csrf.as_str())])
            .send();
        let killer = async {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            child.kill().unwrap();
            child.wait().unwrap();
        };
        let (_, ()) = tokio::join!(request, killer);

        let revoked = app
            .count("SELECT COUNT(*) FROM app_passwords WHERE revoked_at IS NOT NULL")
            .await;
        assert!(
            revoked == 0 || revoked == 3000,
            "after kill -9 at {delay_ms} ms: {revoked} of 3000 revoked"
        );
    }
}
