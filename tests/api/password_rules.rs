//! The main-password policy is the same wherever a main password is set (password change,
//! setup link, `mailkeys user add`): passwords built from the account's own address are
//! refused, and so are passwords from the compiled-in breach list.

use mailkeys::startup::setup_link_if_needed;
use reqwest::StatusCode;

use crate::both_backends;
use mailkeys_test_support::prelude::*;

const FROM_ADDRESS: &str = "mostly your email address";
const BREACHED: &str = "in lists of passwords leaked in data breaches";
/// In the breach list, though zxcvbn alone would accept it.
const LISTED: &str = "Meinnameisttribun420";
const STRONG: &str = "tangerine otter umbrella 7";

async fn changing_the_password_applies_the_policy(backend: Backend) {
    let (_app, browser) = app_with_alice(backend).await;
    for (new, message) in [
        ("alice2024alice", FROM_ADDRESS),
        ("Example2024Alice", FROM_ADDRESS),
        ("mailkeys2024alice", FROM_ADDRESS),
        (LISTED, BREACHED),
    ] {
        let response = browser.change_password(PASSWORD, new, new, false).await;
        refused_page(response, message, new).await;
    }
    let response = browser
        .change_password(PASSWORD, STRONG, STRONG, false)
        .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "a strong one is accepted"
    );
}
both_backends!(changing_the_password_applies_the_policy);

async fn the_setup_link_applies_the_policy(backend: Backend) {
    let app = spawn_app(backend).await;
    let link = setup_link_if_needed(&app.state).await.unwrap().unwrap();
    let path = &link[link.find("/setup/").unwrap()..];
    let browser = app.browser();
    let setup = |password: &'static str| {
        let browser = &browser;
        async move {
            let form = [
                ("email", "root@example.org"),
                ("password", password),
                ("confirm", password),
            ];
            browser.post(path, path, &form).await
        }
    };
    refused_page(
        setup("root2024root").await,
        FROM_ADDRESS,
        "from the address",
    )
    .await;
    refused_page(setup(LISTED).await, BREACHED, "listed").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
    assert_eq!(setup(STRONG).await.status(), StatusCode::SEE_OTHER);
}
both_backends!(the_setup_link_applies_the_policy);

async fn user_add_applies_the_policy(backend: Backend) {
    let app = spawn_app(backend).await;
    let run = |email: &str, password: &str| {
        run_mailkeys(
            |command| {
                command
                    .args(["user", "add", email, "--password-stdin"])
                    .env("DATABASE_URL", &app.database_url)
                    .env("MAILKEYS_HASH_MAIN_MEMORY_KIB", "1024")
                    .env("MAILKEYS_HASH_MAIN_ITERATIONS", "1");
            },
            &format!("{password}\n"),
        )
    };
    let (ok, _, err) = run("dave@example.org", "dave2024dave");
    assert!(!ok && err.contains(FROM_ADDRESS), "{err}");
    let (ok, _, err) = run("dave@example.org", LISTED);
    assert!(!ok && err.contains(BREACHED), "{err}");
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
    let (ok, _, err) = run("dave@example.org", STRONG);
    assert!(ok, "{err}");
}
both_backends!(user_add_applies_the_policy);
