//! The real binary's log as a collector reads it: `MAILKEYS_LOG_FORMAT=json` makes every line
//! on standard error one JSON object, and nothing typed into a sign-in reaches the log. The
//! same run serves Prometheus metrics on `MAILKEYS_METRICS_LISTEN`.

use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;

use mailkeys_test_support::prelude::*;

const WRONG: &str = "wrong-Horse-battery-7731";
/// People type passwords into the address field too.
const IN_THE_EMAIL_FIELD: &str = "Tr0ub4dor-and-3-typed-as-address";

/// Stops `child` with SIGTERM, as a service manager would, and waits for it.
fn stop(mut child: Child) {
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill takes plain integers; the pid is our own child's, not yet reaped.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_and_hold_nothing_typed() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("mailkeys.db").display());
    let env = |command: &mut Command| {
        command
            .env("DATABASE_URL", &url)
            .env("MAILKEYS_LOG_FORMAT", "json")
            .env("RUST_LOG", "trace")
            .env("MAILKEYS_HASH_MAIN_MEMORY_KIB", "1024")
            .env("MAILKEYS_HASH_MAIN_ITERATIONS", "1");
    };
    let (ok, _, stderr) = run_mailkeys(
        |c| {
            env(c);
            c.args(["user", "add", ALICE, "--password-stdin"]);
        },
        &format!("{PASSWORD}\n"),
    );
    assert!(ok, "{stderr}");
    let mut log = stderr;

    let port = reserve_port().release();
    let metrics_port = reserve_port().release();
    let stderr_file = dir.path().join("stderr.log");
    let stdout_file = dir.path().join("stdout.log");
    let mut serve = Command::new(mailkeys_binary());
    env(&mut serve);
    let child = serve
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env(
            "MAILKEYS_METRICS_LISTEN",
            format!("127.0.0.1:{metrics_port}"),
        )
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_file).unwrap())
        .stderr(std::fs::File::create(&stderr_file).unwrap())
        .spawn()
        .unwrap();
    let browser = Browser::new(&format!("http://127.0.0.1:{port}"));
    let up = browser.wait_until_answering("/readyz").await;
    assert!(
        up,
        "the server started: {}",
        std::fs::read_to_string(&stderr_file).unwrap()
    );
    assert_eq!(
        browser.sign_in_status(ALICE, WRONG).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        browser.sign_in_status(IN_THE_EMAIL_FIELD, WRONG).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        browser.sign_in_status(ALICE, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    let scraped = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        scraped.contains("mailkeys_web_sign_ins_total{outcome=\"success\"} 1\n"),
        "{scraped}"
    );
    stop(child);

    let stdout = std::fs::read_to_string(&stdout_file).unwrap();
    assert!(
        stdout.contains(&format!(
            "Serving Prometheus metrics on http://127.0.0.1:{metrics_port}/metrics"
        )),
        "{stdout}"
    );
    log.push_str(&std::fs::read_to_string(&stderr_file).unwrap());
    let mut messages = Vec::new();
    for line in log.lines() {
        let entry: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        for field in ["timestamp", "level", "target"] {
            assert!(entry[field].is_string(), "no {field}: {line}");
        }
        messages.push(
            entry["fields"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert!(
        messages.iter().any(|m| m == "Mailkeys is listening"),
        "{messages:?}"
    );
    assert!(log.lines().count() > 10, "trace logging was on:\n{log}");
    for typed in [PASSWORD, WRONG, IN_THE_EMAIL_FIELD] {
        assert!(!log.contains(typed), "{typed} is in the log:\n{log}");
        assert!(!stdout.contains(typed), "{typed} is on stdout:\n{stdout}");
    }
}

/// Runs `mailkeys migrate` with `settings` as its settings file and debug logging; returns
/// the log lines.
fn migrate_with(dir: &std::path::Path, settings: &str) -> Vec<String> {
    let file = dir.join("mailkeys.toml");
    std::fs::write(&file, settings).unwrap();
    let url = format!("sqlite://{}", dir.join("mailkeys.db").display());
    let (ok, stdout, stderr) = run_mailkeys(
        |c| {
            c.args(["--config", file.to_str().unwrap(), "migrate"])
                .env("DATABASE_URL", &url)
                .env("RUST_LOG", "debug");
        },
        "",
    );
    assert!(ok, "{settings}: {stderr}");
    assert_eq!(stdout, "Database is up to date.\n");
    assert!(stderr.lines().count() > 0, "debug logging was on");
    stderr.lines().map(str::to_owned).collect()
}

fn is_json(line: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(line).is_ok()
}

/// The README's example lines, from a settings file.
#[test]
fn the_readme_settings_are_accepted_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let json = migrate_with(
        dir.path(),
        "metrics_listen = \"127.0.0.1:9464\"\nlog_format = \"json\"\n",
    );
    assert!(json.iter().all(|l| is_json(l)), "{json:?}");
    let text = migrate_with(dir.path(), "log_format = \"text\"\n");
    assert!(text.iter().all(|l| !is_json(l)), "{text:?}");
    migrate_with(
        dir.path(),
        "metrics_listen = \"0.0.0.0:9464\"\nmetrics_allow_non_loopback = true\n",
    );

    let (ok, _, stderr) = run_mailkeys(
        |c| {
            // A database it cannot open: were the address let through, serve stops anyway.
            c.arg("serve")
                .env("DATABASE_URL", "nowhere://at-all")
                .env("MAILKEYS_METRICS_LISTEN", "0.0.0.0:9464")
                .env("MAILKEYS_METRICS_ALLOW_NON_LOOPBACK", "false");
        },
        "",
    );
    assert!(!ok);
    assert!(
        stderr.contains("metrics_listen 0.0.0.0:9464 is not a loopback address"),
        "{stderr}"
    );
}
