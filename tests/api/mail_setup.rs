//! A new password reaching the mail app: post/redirect/get with the plaintext held sealed for
//! one showing, the outgoing settings, the QR code (decoded by zbarimg), the Apple profile
//! (read by plistlib). The autoconfig file and the DNS records are in tests/api/mail_discovery.rs, the
//! session-end flow in tests/api/session_end.rs.

use std::path::PathBuf;
use std::process::Command;

use mailkeys::config::SmtpSecurity;
use mailkeys::infra::hashing::verify_stored;
use mailkeys::services::shown_once::HOLD_SECS;
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::Value;

use crate::both_backends;
use mailkeys_test_support::prelude::*;

/// The Debian interpreter, which has python3-lxml (scripts/test installs it); a `python3`
/// earlier on PATH (pyenv, a virtualenv) may not.
pub(crate) const PYTHON: &str = "/usr/bin/python3";

pub(crate) fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Runs `program` with `args`; its standard output, or a failure with its error output.
pub(crate) fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} could not run ({e}); scripts/test installs it"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The id in a show-once page's path, which is all the redirect carries.
fn shown_once_id(location: &str) -> i64 {
    let re = regex::Regex::new(r"^/app-passwords/(\d+)/new$").unwrap();
    let captures = re
        .captures(location)
        .unwrap_or_else(|| panic!("not a show-once page: {location:?}"));
    captures[1].parse().unwrap()
}

/// Posts the create form; the id from the 303's location.
async fn post_create(browser: &Browser, fields: &[(&str, &str)]) -> i64 {
    let response = browser.create_app_password_with(fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{fields:?}");
    shown_once_id(location(&response))
}

fn password_in(page: &str) -> String {
    let re = regex::Regex::new(r#"<code id="new-password">([^<]+)</code>"#).unwrap();
    re.captures(page)
        .unwrap_or_else(|| panic!("no password on the page:\n{page}"))[1]
        .to_owned()
}

/// The SQLite file and its write-ahead log, as text (empty on PostgreSQL).
fn sqlite_bytes(app: &TestApp) -> String {
    let Some(path) = app.database_url.strip_prefix("sqlite://") else {
        return String::new();
    };
    [path.to_owned(), format!("{path}-wal")]
        .iter()
        .map(|file| String::from_utf8_lossy(&std::fs::read(file).unwrap_or_default()).into_owned())
        .collect()
}

async fn shown_once_rows(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM shown_once").await
}

async fn the_create_form_redirects_and_the_password_is_shown_once(backend: Backend) {
    let (app, browser) = app_with_alice(backend).await;
    let response = browser
        .create_app_password_with(&[("name", "Phone"), ("expires", "never"), ("scope", "imap")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let path = location(&response).to_owned();
    let id = shown_once_id(&path);

    let first = browser.get(&path).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()["cache-control"], "no-store");
    let page = first.text().await.unwrap();
    let shown = password_in(&page);
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM app_passwords WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(verify_stored(&SecretString::from(shown.clone()), &hash).unwrap());
    assert!(!path.contains(&shown[7..]), "never in a URL");

    // The password is held (sealed) for the profile download: it must not be readable
    // anywhere in the database, the file or its log.
    assert_eq!(shown_once_rows(&app).await, 1);
    let sealed: String = sqlx::query_scalar("SELECT sealed FROM shown_once")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(!sealed.contains(&shown[7..]) && !sealed.contains(&shown[..6]));
    assert!(
        !sqlite_bytes(&app).contains(&shown[7..]),
        "no plaintext in the SQLite file or its WAL"
    );

    // A reload: no password, a plain explanation, what to do; nothing posted again.
    let again = browser.get(&path).await;
    assert_eq!(again.status(), StatusCode::GONE);
    let again = again.text().await.unwrap();
    assert!(!again.contains(&shown[7..]), "shown only once");
    assert!(again.contains("was shown already"), "{again}");
    assert!(again.contains("revoke it and create another"), "{again}");
    assert!(again.contains(&format!("/app-passwords/{id}/revoke")));
    assert_eq!(
        app.live_app_passwords().await,
        1,
        "a reload creates nothing"
    );
    assert_eq!(
        app.audit_events_of(ALICE).await,
        ["sign_in", "app_password_created"]
    );
}
both_backends!(the_create_form_redirects_and_the_password_is_shown_once);

async fn the_held_password_is_for_this_browser_session_only(backend: Backend) {
    let (app, browser) = app_with_alice(backend).await;
    let id = post_create(&browser, &[("name", "Phone"), ("expires", "never")]).await;
    let path = format!("/app-passwords/{id}/new");

    // Alice on another device: her own password, but not this browser's session.
    let elsewhere = app.browser();
    elsewhere.sign_in(ALICE, PASSWORD).await;
    assert_eq!(elsewhere.get_status(&path).await, StatusCode::GONE);
    // Somebody else: not theirs at all.
    let bob = app.signed_in("bob@example.org").await;
    assert_eq!(bob.get_status(&path).await, StatusCode::NOT_FOUND);
    // The browser that created it still gets it, once.
    let page = browser.get_text(&path).await;
    password_in(&page);
    assert_eq!(browser.get_status(&path).await, StatusCode::GONE);

    // Signing out ends the session, and what it held goes with it.
    post_create(&browser, &[("name", "Unseen"), ("expires", "never")]).await;
    assert_eq!(shown_once_rows(&app).await, 2);
    browser.sign_out().await;
    assert_eq!(shown_once_rows(&app).await, 0, "gone with the session");
}
both_backends!(the_held_password_is_for_this_browser_session_only);

async fn a_held_password_expires_within_minutes_and_is_purged(backend: Backend) {
    assert_eq!(HOLD_SECS, 10 * 60, "the README says at most 10 minutes");
    let (app, browser) = app_with_alice(backend).await;
    let late = post_create(&browser, &[("name", "Late"), ("expires", "never")]).await;
    assert_eq!(shown_once_rows(&app).await, 1);
    app.clock.advance(HOLD_SECS - 5);
    let on_time = post_create(&browser, &[("name", "On time"), ("expires", "never")]).await;
    app.clock.advance(10);
    let page = browser.get(&format!("/app-passwords/{late}/new")).await;
    assert_eq!(
        page.status(),
        StatusCode::GONE,
        "expired after {HOLD_SECS} s"
    );
    assert_eq!(shown_once_rows(&app).await, 1, "the expired one was purged");
    password_in(
        &browser
            .get_text(&format!("/app-passwords/{on_time}/new"))
            .await,
    );
    app.clock.advance(HOLD_SECS);
    browser.create_app_password("Next").await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM shown_once WHERE viewed_at IS NOT NULL")
            .await,
        1,
        "only the newest is held; older ones were purged"
    );
}
both_backends!(a_held_password_expires_within_minutes_and_is_purged);

pub(crate) fn smtp_starttls(settings: &mut mailkeys::config::Settings) {
    settings.smtp_host = Some("smtp.example.org".into());
    settings.smtp_port = 587;
    settings.smtp_security = SmtpSecurity::Starttls;
}

async fn outgoing_settings_are_shown_only_for_the_smtp_scope(backend: Backend) {
    let app = spawn_app_with(backend, smtp_starttls).await;
    let browser = app.signed_in(ALICE).await;
    let imap = browser.create_app_password("Reader").await;
    assert!(imap.page.contains("mail.example.org") && imap.page.contains("993"));
    assert!(imap.page.contains("SSL/TLS"));
    assert!(
        !imap.page.contains("Outgoing server") && !imap.page.contains("smtp.example.org"),
        "no outgoing server for an IMAP-only password"
    );
    let both = browser
        .create_app_password_from(&[
            ("name", "Sender"),
            ("expires", "never"),
            ("scope", "imap+smtp"),
        ])
        .await;
    let outgoing = both
        .page
        .split(r#"id="outgoing""#)
        .nth(1)
        .expect("an outgoing block");
    let outgoing = &outgoing[..outgoing.find("</dl>").unwrap()];
    for expected in [
        "Outgoing server (SMTP)",
        "smtp.example.org",
        "587",
        "STARTTLS",
    ] {
        assert!(outgoing.contains(expected), "{expected} in {outgoing}");
    }
}
both_backends!(outgoing_settings_are_shown_only_for_the_smtp_scope);

async fn the_qr_code_decodes_to_the_password(backend: Backend) {
    let (_app, browser) = app_with_alice(backend).await;
    let created = browser.create_app_password("Phone").await;
    let svg = regex::Regex::new(r"(?s)<svg .*?</svg>")
        .unwrap()
        .find(&created.page)
        .expect("an inline SVG QR code")
        .as_str()
        .to_owned();
    assert!(svg.contains(r#"role="img""#) && svg.contains("aria-labelledby"));
    let dir = tempfile::tempdir().unwrap();
    let (svg_file, png_file) = (dir.path().join("qr.svg"), dir.path().join("qr.png"));
    std::fs::write(&svg_file, &svg).unwrap();
    run(
        "rsvg-convert",
        &[
            "--width",
            "400",
            "-o",
            png_file.to_str().unwrap(),
            svg_file.to_str().unwrap(),
        ],
    );
    let decoded = run("zbarimg", &["--raw", "-q", png_file.to_str().unwrap()]);
    assert_eq!(decoded.trim_end(), created.plaintext);
}
both_backends!(the_qr_code_decodes_to_the_password);

/// Posts the profile form of the show-once page `page` for the app password `id`.
async fn download_profile(browser: &Browser, page: &str, id: i64) -> reqwest::Response {
    let csrf = csrf_in(page);
    browser
        .post_raw(&format!("/app-passwords/{id}/profile"), &[("csrf", &csrf)])
        .await
}

async fn the_apple_profile_is_a_property_list_downloaded_once(backend: Backend) {
    let app = spawn_app_with(backend, smtp_starttls).await;
    let browser = app.signed_in(ALICE).await;
    let name = r#"Phone <&> "1""#;
    let fields = [("name", name), ("expires", "never"), ("scope", "imap+smtp")];
    let id = post_create(&browser, &fields).await;
    let dashboard = browser.get_text("/").await;
    let early = download_profile(&browser, &dashboard, id).await;
    assert_eq!(
        early.status(),
        StatusCode::GONE,
        "not before the page showed it"
    );

    let page = browser.get_text(&format!("/app-passwords/{id}/new")).await;
    let password = password_in(&page);
    assert!(page.contains("Download the setup profile for iPhone, iPad or Mac"));
    assert!(page.contains(&format!(r#"action="/app-passwords/{id}/profile""#)));
    let response = download_profile(&browser, &page, id).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/x-apple-aspen-config"
    );
    assert_eq!(
        response.headers()["content-disposition"],
        r#"attachment; filename="mailkeys.mobileconfig""#
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mailkeys.mobileconfig");
    std::fs::write(&file, response.bytes().await.unwrap()).unwrap();
    let profile: Value = serde_json::from_str(&run(
        PYTHON,
        &[
            fixture("read_plist.py").to_str().unwrap(),
            file.to_str().unwrap(),
        ],
    ))
    .unwrap();
    assert_eq!(profile["PayloadType"], "Configuration");
    assert_eq!(profile["PayloadVersion"], 1);
    let mail = &profile["PayloadContent"][0];
    let expected = serde_json::json!({
        "PayloadType": "com.apple.mail.managed",
        "EmailAccountType": "EmailTypeIMAP",
        "EmailAddress": ALICE,
        "IncomingMailServerHostName": "mail.example.org",
        "IncomingMailServerPortNumber": 993,
        "IncomingMailServerUseSSL": true,
        "IncomingMailServerUsername": ALICE,
        "IncomingMailServerAuthentication": "EmailAuthPassword",
        "IncomingPassword": password,
        "OutgoingMailServerHostName": "smtp.example.org",
        "OutgoingMailServerPortNumber": 587,
        "OutgoingMailServerUseSSL": false,
        "OutgoingMailServerUsername": ALICE,
        "OutgoingPasswordSameAsIncomingPassword": true,
    });
    for (key, value) in expected.as_object().unwrap() {
        assert_eq!(&mail[key], value, "{key}");
    }
    assert!(mail["EmailAccountDescription"]
        .as_str()
        .unwrap()
        .contains(name));
    let uuid =
        regex::Regex::new(r"^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$")
            .unwrap();
    let (outer, inner) = (
        profile["PayloadUUID"].as_str().unwrap(),
        mail["PayloadUUID"].as_str().unwrap(),
    );
    assert!(uuid.is_match(outer) && uuid.is_match(inner) && outer != inner);
    assert_ne!(profile["PayloadIdentifier"], mail["PayloadIdentifier"]);

    let again = download_profile(&browser, &page, id).await;
    assert_eq!(again.status(), StatusCode::GONE);
    let again = again.text().await.unwrap();
    assert!(again.contains("cannot be downloaded again"), "{again}");
    assert!(!again.contains(&password[7..]));
    assert_eq!(
        shown_once_rows(&app).await,
        0,
        "the download removed the held password"
    );
    assert!(!sqlite_bytes(&app).contains(&password[7..]));
}
both_backends!(the_apple_profile_is_a_property_list_downloaded_once);
