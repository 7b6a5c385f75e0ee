//! SIGTERM while a bulk revocation runs, with the real binary: the job's page must not say
//! "running" forever. Dovecot's doveadm API here accepts connections and never answers, so
//! the job is still asking it to end sessions (after its batch is committed) when the stop
//! comes.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use mailkeys_test_support::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_marks_the_running_bulk_revocation_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("mk.db").display());
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let doveadm = format!(
        "http://127.0.0.1:{}/doveadm/v1",
        silent.local_addr().unwrap().port()
    );
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let env = |command: &mut std::process::Command| {
        command
            .env("DATABASE_URL", &database_url)
            .env("MAILKEYS_HASH_MAIN_MEMORY_KIB", "1024")
            .env("MAILKEYS_HASH_MAIN_ITERATIONS", "1")
            .env("MAILKEYS_DOVEADM_URL", &doveadm)
            .env("MAILKEYS_DOVEADM_API_KEY", "silent-doveadm-key");
    };
    let (ok, out, err) = run_mailkeys(
        |c| {
            env(c);
            c.args(["user", "add", ROOT, "--admin", "--password-stdin"]);
        },
        &format!("{PASSWORD}\n"),
    );
    assert!(ok, "{out}{err}");
    let port = reserve_port().release();
    let mut command = std::process::Command::new(mailkeys_binary());
    env(&mut command);
    let mut child = command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let admin = Browser::new(&format!("http://127.0.0.1:{port}"));
    assert!(
        admin.wait_until_answering("/healthz").await,
        "the server started"
    );
    assert_eq!(
        admin.sign_in_status(ROOT, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    admin.create_app_password("Phone").await;

    let form = [("domain", "example.org"), ("reason", "breach")];
    let run = admin
        .post("/admin/bulk-revoke", "/admin/bulk-revoke", &form)
        .await;
    assert_eq!(run.status(), StatusCode::SEE_OTHER);
    let job = location(&run).to_owned();
    // Its one batch is committed at once; then it waits on Dovecot, still running.
    let mut page = String::new();
    for _ in 0..40 {
        page = admin.get_text(&job).await;
        if page.contains("Mailkeys is asking Dovecot to close") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        page.contains("Mailkeys is asking Dovecot to close"),
        "{page}"
    );
    assert!(page.contains("data-state=\"running\""), "{page}");

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 15 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0));

    let db = mailkeys::store::Db::connect(&database_url).await.unwrap();
    let (state, revoked): (String, i64) = sqlx::query_as("SELECT state, revoked FROM bulk_jobs")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(state, "interrupted");
    assert_eq!(revoked, 1, "the committed batch stays revoked");
}
