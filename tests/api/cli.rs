//! The `mailkeys` binary's user commands, run as a new admin would.

use std::process::Command;

use crate::both_backends;
use mailkeys_test_support::prelude::*;

pub(crate) fn mailkeys(app: &TestApp, args: &[&str], stdin: &str) -> (bool, String, String) {
    run_mailkeys(
        |command| {
            command
                .args(args)
                .env("DATABASE_URL", &app.database_url)
                .env("MAILKEYS_HASH_MAIN_MEMORY_KIB", "1024")
                .env("MAILKEYS_HASH_MAIN_ITERATIONS", "1");
        },
        stdin,
    )
}

async fn user_add_and_list_work_from_the_command_line(backend: Backend) {
    let app = spawn_app(backend).await;
    let (ok, out, err) = mailkeys(
        &app,
        &[
            "user",
            "add",
            "bob@example.org",
            "--admin",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(ok, "{out}{err}");
    assert_eq!(
        app.browser()
            .sign_in_status("bob@example.org", PASSWORD)
            .await,
        reqwest::StatusCode::SEE_OTHER
    );

    let (ok, out, _) = mailkeys(
        &app,
        &["user", "add", "carol@example.org", "--generate"],
        "",
    );
    assert!(ok);
    let generated = out
        .lines()
        .find_map(|l| l.strip_prefix("Password (shown once): "))
        .expect("printed password")
        .to_owned();
    assert_eq!(
        app.browser()
            .sign_in("carol@example.org", &generated)
            .await
            .status(),
        reqwest::StatusCode::SEE_OTHER
    );

    let (ok, _, err) = mailkeys(
        &app,
        &["user", "add", "BOB@example.org", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert!(!ok && err.contains("exists already"), "{err}");
    let (ok, _, err) = mailkeys(
        &app,
        &["user", "add", "dave@example.org", "--password-stdin"],
        "password1234\n",
    );
    assert!(!ok && err.contains("too common"), "{err}");

    let (ok, out, _) = mailkeys(&app, &["user", "list"], "");
    assert!(ok);
    assert!(
        out.contains("bob@example.org\tadmin") && out.contains("carol@example.org"),
        "{out}"
    );
    assert!(!out.contains("dave@example.org"));
}
both_backends!(user_add_and_list_work_from_the_command_line);

#[test]
fn every_command_has_help() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["migrate", "--help"],
        &["user", "add", "--help"],
        &["user", "list", "--help"],
        &["backup", "--help"],
        &["restore", "--help"],
        &["dovecot", "--help"],
        &["dovecot", "config", "--help"],
        &["dovecot", "check", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_mailkeys"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
}
