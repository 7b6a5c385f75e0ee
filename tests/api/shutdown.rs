//! SIGTERM with the real binary: the request in flight finishes with its normal answer
//! (and its audit entry), idle connections do not hold the stop up, the process exits 0,
//! and new connections are refused.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use mailkeys_test_support::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_request_in_flight_finish_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("mk.db");
    let database_url = format!("sqlite://{}", db_path.display());
    let env = |command: &mut std::process::Command| {
        command
            .env("DATABASE_URL", &database_url)
            .env("MAILKEYS_HASH_MAIN_MEMORY_KIB", "1024")
            .env("MAILKEYS_HASH_MAIN_ITERATIONS", "1");
    };
    let (ok, out, err) = run_mailkeys(
        |c| {
            env(c);
            c.args(["user", "add", ALICE, "--password-stdin"]);
        },
        &format!("{PASSWORD}\n"),
    );
    assert!(ok, "{out}{err}");

    // A mail server that accepts and never speaks: the connection test waits for its
    // greeting for the whole step limit (2 s). It says when the check has connected.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let (connected_tx, connected) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (stream, _) = silent.accept().await.unwrap();
        let _ = connected_tx.send(());
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(stream);
    });
    let config = dir.path().join("mailkeys.toml");
    std::fs::write(
        &config,
        format!(
            "check_step_timeout_secs = 2\ncheck_total_timeout_secs = 4\n\n[[mail_servers]]\n\
             name = \"Mail\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n",
            silent_port
        ),
    )
    .unwrap();
    let port = reserve_port().release();
    let mut command = std::process::Command::new(mailkeys_binary());
    env(&mut command);
    let mut child = command
        .args(["--config", config.to_str().unwrap()])
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let browser = Browser::new(&format!("http://127.0.0.1:{port}"));
    let up = browser.wait_until_answering("/healthz").await;
    assert!(up, "the server started");
    assert_eq!(
        browser.sign_in_status(ALICE, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    let me: serde_json::Value = browser
        .client
        .get(format!("{}/api/me", browser.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = me["csrf_token"].as_str().unwrap().to_owned();
    // An idle keep-alive connection, which must not hold the stop up.
    let mut idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();

    let check = {
        let client = browser.client.clone();
        let url = format!("{}/api/check", browser.base);
        tokio::spawn(async move {
            client
                .post(url)
                .header("X-CSRF-Token", token)
                .json(&serde_json::json!({"server": "Mail", "password": "not-checked-here"}))
                .send()
                .await
        })
    };
    // SIGTERM once the check is in flight (connected to the server, awaiting its greeting).
    tokio::time::timeout(Duration::from_secs(10), connected)
        .await
        .expect("the check reached the mail server")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let term = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    let response = check
        .await
        .unwrap()
        .expect("the request in flight is answered");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let report: serde_json::Value = response.json().await.unwrap();
    assert_eq!(report["verdict"]["kind"], "timeout", "{report}");

    let mut buf = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(2), idle.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0) | Err(_))),
        "the idle connection stayed open"
    );

    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
    assert!(
        term.elapsed() < Duration::from_secs(5),
        "{:?}",
        term.elapsed()
    );
    let refused = TcpStream::connect(("127.0.0.1", port)).await;
    assert_eq!(
        refused.err().map(|e| e.kind()),
        Some(std::io::ErrorKind::ConnectionRefused)
    );

    // Nothing half-written: the check's audit entry is there and the file is sound.
    let db = mailkeys::store::Db::connect(&database_url).await.unwrap();
    let audited: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE event = 'connection_test'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(audited, 1);
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
}
