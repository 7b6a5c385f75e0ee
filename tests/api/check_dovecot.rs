//! The connection test against real servers: a real Dovecot (mailkeys_test_support::dovecot, 2.3
//! and 2.4) per situation, configured to misbehave in exactly one way, plus the few situations no
//! Dovecot can produce (nothing listening, no greeting, no such host, OAuth only), served
//! by the fake IMAP server. Every check goes through `POST /api/check` and must end with the
//! right verdict within its time limit: the configured `check_total_timeout_secs`, measured
//! around the HTTP request, plus a small margin for the request itself.
//!
//! The last test runs the real `mailkeys serve` binary with `RUST_LOG=trace` and looks for
//! the passwords in everything it printed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mailkeys::config::Settings;
use mailkeys::imap::{MailServer, TlsMode};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::dovecot::DovecotVersion;
use crate::dovecot::{CertChoice, Dovecot, DovecotDb, DovecotOptions};
use crate::imap_logins::dovecot_db;
use crate::{each_dovecot, each_version};
use mailkeys_test_support::certs::{ServerConfig, TestCa, Validity};
use mailkeys_test_support::fake_imap::{self, Script};
use mailkeys_test_support::prelude::*;

/// Short limits, so the slow situations stay quick; the bound asserted is `TOTAL_SECS`.
const STEP_SECS: u64 = 2;
const TOTAL_SECS: u64 = 6;
/// On top of the check's limit: the HTTP request, the credential lookup, the audit row.
const MARGIN: Duration = Duration::from_millis(1500);

const USER: &str = "alice@example.org";
const WRONG: &str = "not-my-password-at-all";

fn settings_for(s: &mut Settings, servers: Vec<MailServer>) {
    s.mail_servers = servers;
    s.check_step_timeout_secs = STEP_SECS;
    s.check_total_timeout_secs = TOTAL_SECS;
    s.checks_per_minute = 100;
}

fn server(name: &str, host: &str, port: u16, tls: TlsMode, ca: Option<PathBuf>) -> MailServer {
    MailServer {
        name: name.into(),
        host: host.into(),
        port,
        tls,
        ca_file: ca,
    }
}

/// The server `name` at `host`:`port` in `tls` mode, trusting the test Dovecot's CA.
fn trusting(dovecot: &Dovecot, name: &str, host: &str, port: u16, tls: TlsMode) -> MailServer {
    server(name, host, port, tls, Some(dovecot.ca_cert_pem.clone()))
}

pub(crate) fn imaps(dovecot: &Dovecot) -> MailServer {
    trusting(
        dovecot,
        "IMAPS",
        "localhost",
        dovecot.imaps_port,
        TlsMode::Implicit,
    )
}

/// Mailkeys and one Dovecot on the same fresh database, alice signed in.
struct Setup {
    app: TestApp,
    dovecot: Dovecot,
    browser: Browser,
}

async fn setup(
    version: DovecotVersion,
    backend: Backend,
    options: impl FnOnce(&mut DovecotOptions),
    servers: impl FnOnce(&Dovecot) -> Vec<MailServer>,
) -> Setup {
    let (dir, database_url) = fresh_database_for(backend, version).await;
    let mut opts = DovecotOptions::new(version, dovecot_db(&database_url));
    options(&mut opts);
    let dovecot = Dovecot::start(opts).await;
    let servers = servers(&dovecot);
    let app = spawn_app_on(dir, database_url, |s| settings_for(s, servers)).await;
    let browser = app.signed_in(USER).await;
    Setup {
        app,
        dovecot,
        browser,
    }
}

impl Setup {
    /// Checks `password` on the server `name` as alice.
    async fn check(&self, name: &str, password: &str) -> Checked {
        check(&self.app, &self.browser, name, password).await
    }

    /// Checks `password` on the server `name`: the check must end in `verdict`, failed at
    /// `step`.
    async fn check_fails(&self, name: &str, password: &str, verdict: &str, step: &str) -> Checked {
        let checked = self.check(name, password).await;
        checked.expect(verdict, &self.dovecot.log()).failed_at(step);
        checked
    }
}

/// [`setup`] with the default Dovecot options and its IMAPS port as the one server.
async fn imaps_setup(version: DovecotVersion, backend: Backend) -> Setup {
    setup(version, backend, |_| {}, |d| vec![imaps(d)]).await
}

/// Mailkeys alone with the one server `target`: a check of it must end in `verdict`, failed
/// at `step`.
async fn check_alone_fails(target: MailServer, verdict: &str, step: &str) {
    let name = target.name.clone();
    let (app, browser) = app_alone(vec![target]).await;
    let checked = check(&app, &browser, &name, "whatever-password").await;
    checked.expect(verdict, "").failed_at(step);
}

/// [`setup`] on SQLite with the default Dovecot options.
async fn on_sqlite(
    version: DovecotVersion,
    servers: impl FnOnce(&Dovecot) -> Vec<MailServer>,
) -> Setup {
    setup(version, Backend::Sqlite, |_| {}, servers).await
}

/// Mailkeys alone (for the stand-in servers), alice signed in.
pub(crate) async fn app_alone(servers: Vec<MailServer>) -> (TestApp, Browser) {
    let app = spawn_app_with(Backend::Sqlite, |s| settings_for(s, servers)).await;
    let browser = app.signed_in(USER).await;
    (app, browser)
}

/// The answer of one `POST /api/check` and how long it took.
pub(crate) struct Checked {
    status: StatusCode,
    pub(crate) report: Value,
    took: Duration,
}

pub(crate) async fn check(
    app: &TestApp,
    browser: &Browser,
    server: &str,
    password: &str,
) -> Checked {
    let me: Value = browser.get("/api/me").await.json().await.unwrap();
    let token = me["csrf_token"].as_str().expect("csrf_token").to_owned();
    let started = Instant::now();
    let response = browser
        .client
        .post(app.url("/api/check"))
        .header("x-csrf-token", token)
        .json(&json!({"server": server, "password": password}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let took = started.elapsed();
    let report = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("not a report ({status}, {e}): {text}"));
    Checked {
        status,
        report,
        took,
    }
}

impl Checked {
    /// The verdict is `kind`, the HTTP status says whether it worked, and the check ended
    /// within its limit. `context` (a Dovecot log, say) is shown when it fails.
    pub(crate) fn expect(&self, kind: &str, context: &str) -> &Self {
        let report = &self.report;
        assert_eq!(
            report["verdict"]["kind"], kind,
            "verdict of {report:#}\n{context}"
        );
        let success = kind == "success";
        assert_eq!(report["verdict"]["success"], success, "{report:#}");
        let status = if success {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        assert_eq!(self.status, status, "{report:#}");
        let bound = Duration::from_secs(TOTAL_SECS) + MARGIN;
        assert!(
            self.took <= bound,
            "the check took {:?}, more than {bound:?}: {report:#}",
            self.took
        );
        let total_ms = report["total_ms"].as_u64().expect("total_ms");
        assert!(
            total_ms <= TOTAL_SECS * 1000 + 100,
            "the probe ran {total_ms} ms, past its own limit of {TOTAL_SECS} s"
        );
        for field in ["title", "advice"] {
            assert!(
                report["verdict"][field]
                    .as_str()
                    .is_some_and(|t| !t.is_empty()),
                "{report:#}"
            );
        }
        self
    }

    fn title(&self) -> &str {
        self.report["verdict"]["title"].as_str().unwrap_or_default()
    }

    /// `(step, outcome)` in order, e.g. `("greeting", "passed")`.
    /// The steps and their outcomes as `step outcome, step outcome, …`.
    fn steps_in_a_line(&self) -> String {
        let steps: Vec<String> = self
            .steps()
            .iter()
            .map(|(step, outcome)| format!("{step} {outcome}"))
            .collect();
        steps.join(", ")
    }

    fn steps(&self) -> Vec<(String, String)> {
        self.report["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .map(|s| {
                (
                    s["step"].as_str().unwrap().to_owned(),
                    s["outcome"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    fn step_names(&self) -> Vec<String> {
        self.steps().into_iter().map(|(step, _)| step).collect()
    }

    /// The last step ran is `step` and it failed.
    fn assert_title_says(&self, words: &str) {
        assert!(self.title().contains(words), "{}", self.title());
    }

    pub(crate) fn failed_at(&self, step: &str) -> &Self {
        let steps = self.steps();
        assert_eq!(
            steps.last().map(|(s, o)| (s.as_str(), o.as_str())),
            Some((step, "failed")),
            "{:#}",
            self.report
        );
        self
    }

    fn summary_of(&self, step: &str) -> String {
        self.report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["step"] == step)
            .map(|s| s["summary"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

const MESSAGE: &str = "From: Bob <bob@example.org>\nTo: Alice <alice@example.org>\n\
                       Subject: Hello\nDate: Wed, 26 Nov 2025 10:00:00 +0000\n\nHi Alice.\n";

fn all_passed(checked: &Checked, expected: &[&str]) {
    assert_eq!(checked.step_names(), expected, "{:#}", checked.report);
    assert!(
        checked
            .steps()
            .iter()
            .all(|(_, outcome)| outcome == "passed"),
        "{:#}",
        checked.report
    );
}

// ---------------------------------------------------------------------------------------
// Signing in for real

async fn success_over_implicit_tls(version: DovecotVersion, backend: Backend) {
    let s = imaps_setup(version, backend).await;
    for _ in 0..3 {
        s.dovecot.deliver(USER, MESSAGE);
    }
    let created = s.browser.create_app_password("Phone").await;
    let checked = check(&s.app, &s.browser, "IMAPS", &created.plaintext).await;
    checked.expect("success", &s.dovecot.log());
    assert_eq!(checked.report["messages"], 3, "{:#}", checked.report);
    checked.assert_title_says("3 messages");
    all_passed(
        &checked,
        &[
            "resolve",
            "connect",
            "tls_handshake",
            "greeting",
            "capability",
            "login",
            "select_inbox",
            "logout",
        ],
    );
    let tls = &checked.report["tls"];
    assert_eq!(tls["valid_for_host"], true, "{tls:#}");
    assert_eq!(tls["certificate"]["subject"], "CN=localhost", "{tls:#}");
    assert!(
        checked.summary_of("login").contains("Signed in with LOGIN"),
        "{}",
        checked.summary_of("login")
    );
}
each_dovecot!(success_over_implicit_tls);

/// STARTTLS as a remote client sees it: Dovecot listens on 127.0.0.2, so the connection from
/// 127.0.0.1 is not "secured" and LOGIN is disabled until TLS is up.
async fn success_over_starttls(version: DovecotVersion, backend: Backend) {
    let s = setup(
        version,
        backend,
        |o| o.listen_address = std::net::Ipv4Addr::new(127, 0, 0, 2),
        |d| {
            vec![trusting(
                d,
                "STARTTLS",
                "127.0.0.2",
                d.imap_port,
                TlsMode::StartTls,
            )]
        },
    )
    .await;
    s.dovecot.deliver(USER, MESSAGE);
    let created = s.browser.create_app_password("Laptop").await;
    let checked = check(&s.app, &s.browser, "STARTTLS", &created.plaintext).await;
    checked.expect("success", &s.dovecot.log());
    assert_eq!(checked.report["messages"], 1, "{:#}", checked.report);
    assert!(checked.title().contains("1 message"), "{}", checked.title());
    all_passed(
        &checked,
        &[
            "resolve",
            "connect",
            "greeting",
            "capability",
            "start_tls",
            "tls_handshake",
            "capability",
            "login",
            "select_inbox",
            "logout",
        ],
    );
    let before_tls = checked.summary_of("capability");
    assert!(
        before_tls.contains("LOGINDISABLED") && before_tls.contains("STARTTLS offered"),
        "{before_tls}"
    );
    assert_eq!(checked.report["tls"]["valid_for_host"], true);
}
each_dovecot!(success_over_starttls);

// ---------------------------------------------------------------------------------------
// Refused credentials: the verdict says why, from what Mailkeys knows about the password.
// One failed login per Dovecot: Dovecot delays further attempts from the same address.

/// The right lookup id with a wrong secret: a mistyped app password.
async fn wrong_app_password(version: DovecotVersion, backend: Backend) {
    let s = imaps_setup(version, backend).await;
    let created = s.browser.create_app_password("Phone").await;
    let mistyped = format!("{}-aaaaaa-aaaaaa-aaaaaa-aaaaaa", &created.plaintext[..6]);
    s.check_fails("IMAPS", &mistyped, "wrong_password", "login")
        .await;
}
each_dovecot!(wrong_app_password);

/// An account that may use its main password over IMAP, and a wrong one typed: Mailkeys
/// verified that it is none of the account's passwords, and says so.
async fn wrong_main_password(version: DovecotVersion, backend: Backend) {
    let s = imaps_setup(version, backend).await;
    assert_eq!(
        s.browser.set_main_imap(true).await.status(),
        StatusCode::SEE_OTHER
    );
    s.check_fails("IMAPS", WRONG, "not_this_accounts_password", "login")
        .await;
}
each_dovecot!(wrong_main_password);

/// A random wrong password on an account that requires app passwords (the default): it is
/// not the main password, so the verdict must not say that the main password cannot be
/// used; it says the password is none of the account's. (The real main password on the
/// same kind of account still gets `main_password_refused`: see
/// `main_password_on_an_app_password_only_account`.)
async fn random_password_on_an_app_password_only_account(
    version: DovecotVersion,
    backend: Backend,
) {
    let s = imaps_setup(version, backend).await;
    s.browser.create_app_password("Phone").await;
    let checked = s
        .check_fails("IMAPS", WRONG, "not_this_accounts_password", "login")
        .await;
    assert_ne!(checked.report["verdict"]["kind"], "main_password_refused");
    assert!(
        !checked.title().contains("main password cannot"),
        "{}",
        checked.title()
    );
    checked.assert_title_says("neither one of your app passwords nor your main password");
}
each_dovecot!(random_password_on_an_app_password_only_account);

/// An app password with one wrong character in its first group (the lookup id): named a
/// likely typo of the user's app password, not a refused main password.
async fn app_password_with_a_typo_in_its_first_group(version: DovecotVersion, backend: Backend) {
    let s = imaps_setup(version, backend).await;
    let created = s.browser.create_app_password("Phone").await;
    let first = created.plaintext.as_bytes()[0];
    let other = if first == b'a' { 'b' } else { 'a' };
    let typo = format!("{other}{}", &created.plaintext[1..]);
    let checked = s
        .check_fails("IMAPS", &typo, "app_password_typo", "login")
        .await;
    checked
        .assert_title_says("not exactly one of your app passwords, but looks like one with a typo");
}
each_dovecot!(app_password_with_a_typo_in_its_first_group);

/// Wrong passwords checked one after another, by two users, with Mailkeys' default limits
/// (5 s a step, 20 s in all). Every check comes from Mailkeys' one address, and Dovecot
/// answers repeated failures from one address late: measured on 2.3.19 (harness:
/// `auth_failure_delay = 0`), the first failure in 0.5 s, the next ones 4.5 s, then 8.5 s
/// (each new wrong password raises the penalty; any success from the address resets it; it
/// wears off after some 15 s without failures). The right answer is still "wrong
/// password" each time, not a timeout at sign-in that blames a slow password database.
/// (The database plays no part: SQLite only.)
async fn repeated_wrong_passwords_are_still_wrong_passwords(version: DovecotVersion) {
    let (dir, database_url) = fresh_database_for(Backend::Sqlite, version).await;
    let dovecot = Dovecot::start(DovecotOptions::new(version, dovecot_db(&database_url))).await;
    let servers = vec![imaps(&dovecot)];
    let app = spawn_app_on(dir, database_url, |s| {
        s.mail_servers = servers;
        s.checks_per_minute = 100;
    })
    .await;
    let defaults = Settings::default();
    assert_eq!(
        (
            app.settings.check_step_timeout_secs,
            app.settings.check_total_timeout_secs
        ),
        (
            defaults.check_step_timeout_secs,
            defaults.check_total_timeout_secs
        )
    );
    let bound = Duration::from_secs(defaults.check_total_timeout_secs) + MARGIN;
    let alice = app.signed_in(USER).await;
    let bob = app.signed_in("bob@example.org").await;
    let alice_app = alice.create_app_password("Phone").await.plaintext;
    let bob_app = bob.create_app_password("Phone").await.plaintext;
    let mistyped = |password: &str, filler: char| {
        let group = filler.to_string().repeat(6);
        format!("{}-{group}-{group}-{group}-{group}", &password[..6])
    };
    let attempts = [
        (&alice, mistyped(&alice_app, 'a')),
        (&bob, mistyped(&bob_app, 'b')),
        (&alice, mistyped(&alice_app, 'c')),
    ];
    let mut seen = Vec::new();
    for (n, (browser, password)) in attempts.iter().enumerate() {
        let checked = check(&app, browser, "IMAPS", password).await;
        let kind = checked.report["verdict"]["kind"]
            .as_str()
            .unwrap()
            .to_owned();
        seen.push(format!(
            "check {}: {kind} after {:?} (sign-in step: {})",
            n + 1,
            checked.took,
            checked.summary_of("login")
        ));
        assert!(checked.took <= bound, "{}", seen.join("\n"));
        assert_eq!(
            kind,
            "wrong_password",
            "Dovecot slows down failures from Mailkeys' address:\n{}",
            seen.join("\n")
        );
    }
}
each_version!(repeated_wrong_passwords_are_still_wrong_passwords);

/// How an app password stops being valid.
enum Retire {
    /// Revoked from the dashboard, for `reason`.
    Revoke { reason: &'static str },
    /// Expired a minute ago, by the wall clock Dovecot's view uses and by the app's clock.
    Expire,
}

/// An app password retired `how` is refused at sign-in: the check ends in `verdict`, whose
/// title says `title_says`.
async fn retired_app_password(
    version: DovecotVersion,
    backend: Backend,
    how: Retire,
    verdict: &str,
    title_says: &str,
) {
    let s = imaps_setup(version, backend).await;
    let (created, id) = s.app.new_app_password(&s.browser, "Old phone").await;
    match how {
        Retire::Revoke { reason } => assert_eq!(
            s.browser.revoke(id, reason).await.status(),
            StatusCode::SEE_OTHER
        ),
        Retire::Expire => {
            let expired_at = s.app.clock_now() - 60;
            sqlx::query("UPDATE app_passwords SET expires_at = $1 WHERE id = $2")
                .bind(expired_at)
                .bind(id)
                .execute(&s.app.db.pool)
                .await
                .unwrap();
        }
    }
    let checked = s
        .check_fails("IMAPS", &created.plaintext, verdict, "login")
        .await;
    checked.assert_title_says(title_says);
}

async fn revoked_app_password(version: DovecotVersion, backend: Backend) {
    let how = Retire::Revoke { reason: "lost it" };
    retired_app_password(version, backend, how, "app_password_revoked", "revoked on").await
}
each_dovecot!(revoked_app_password);

async fn expired_app_password(version: DovecotVersion, backend: Backend) {
    let how = Retire::Expire;
    retired_app_password(version, backend, how, "app_password_expired", "expired on").await
}
each_dovecot!(expired_app_password);

/// The right main password, on an account that requires app passwords (the default). While
/// the account allowed it, the same password worked: the refusal is the account's setting.
/// (Success first: after a failure Dovecot delays the next login from the same address.)
async fn main_password_on_an_app_password_only_account(version: DovecotVersion, backend: Backend) {
    let s = imaps_setup(version, backend).await;
    s.browser.set_main_imap(true).await;
    check(&s.app, &s.browser, "IMAPS", PASSWORD)
        .await
        .expect("success", &s.dovecot.log());
    s.browser.set_main_imap(false).await;
    s.check_fails("IMAPS", PASSWORD, "main_password_refused", "login")
        .await;
}
each_dovecot!(main_password_on_an_app_password_only_account);

// ---------------------------------------------------------------------------------------
// Transport situations (the database plays no part: SQLite only).

/// `ssl = required` on a plaintext port, checked with no encryption from an address Dovecot
/// does not count as secured: LOGINDISABLED, STARTTLS offered, no AUTH= at all. (From
/// 127.0.0.1 to 127.0.0.1 Dovecot announces AUTH=PLAIN and accepts LOGIN even with
/// `ssl = required`; see the harness test.)
async fn login_disabled_on_a_plaintext_port(version: DovecotVersion) {
    let s = setup(
        version,
        Backend::Sqlite,
        |o| {
            o.ssl_required = true;
            o.listen_address = std::net::Ipv4Addr::new(127, 0, 0, 2);
        },
        |d| {
            vec![server(
                "Plain",
                "127.0.0.2",
                d.imap_port,
                TlsMode::None,
                None,
            )]
        },
    )
    .await;
    let created = s.browser.create_app_password("Phone").await;
    let checked = s
        .check_fails(
            "Plain",
            &created.plaintext,
            "login_disabled_before_tls",
            "login",
        )
        .await;
    let capabilities = checked.report["capabilities"].to_string();
    assert!(
        capabilities.contains("LOGINDISABLED") && capabilities.contains("STARTTLS"),
        "{capabilities}"
    );
    assert!(!capabilities.contains("AUTH="), "{capabilities}");
    assert!(
        !s.dovecot.log().contains("auth failed"),
        "the password must not have been sent:\n{}",
        s.dovecot.log()
    );
}
each_version!(login_disabled_on_a_plaintext_port);

async fn tls_client_to_the_plaintext_port(version: DovecotVersion) {
    let s = on_sqlite(version, |d| {
        vec![trusting(
            d,
            "Wrong mode",
            "localhost",
            d.imap_port,
            TlsMode::Implicit,
        )]
    })
    .await;
    s.check_fails(
        "Wrong mode",
        "whatever-password",
        "tls_to_plaintext_port",
        "tls_handshake",
    )
    .await;
}
each_version!(tls_client_to_the_plaintext_port);

/// No encryption, and STARTTLS, aimed at the IMAPS port: no greeting comes within the step
/// limit, then a TLS handshake on a second connection succeeds.
async fn plaintext_client_to_the_tls_port(version: DovecotVersion) {
    let s = on_sqlite(version, |d| {
        vec![
            trusting(d, "None at 993", "localhost", d.imaps_port, TlsMode::None),
            trusting(
                d,
                "STARTTLS at 993",
                "localhost",
                d.imaps_port,
                TlsMode::StartTls,
            ),
        ]
    })
    .await;
    for name in ["None at 993", "STARTTLS at 993"] {
        let checked = check(&s.app, &s.browser, name, "whatever-password").await;
        checked.expect("plaintext_to_tls_port", &s.dovecot.log());
        assert_eq!(
            checked.steps_in_a_line(),
            "resolve passed, connect passed, greeting failed, tls_probe passed",
            "{name}: {:#}",
            checked.report
        );
    }
}
each_version!(plaintext_client_to_the_tls_port);

/// A certificate problem stops the check right after the handshake: no IMAP, no password.
async fn certificate_situation(version: DovecotVersion, cert: CertChoice, kind: &str) -> Checked {
    let s = setup(
        version,
        Backend::Sqlite,
        |o| o.cert = cert,
        |d| vec![imaps(d)],
    )
    .await;
    let checked = check(&s.app, &s.browser, "IMAPS", "whatever-password").await;
    checked
        .expect(kind, &s.dovecot.log())
        .failed_at("tls_handshake");
    assert_eq!(checked.report["tls"]["valid_for_host"], false);
    assert!(checked.report["greeting"].is_null(), "{:#}", checked.report);
    checked
}

async fn self_signed_certificate(version: DovecotVersion) {
    let checked =
        certificate_situation(version, CertChoice::SelfSigned, "certificate_self_signed").await;
    assert_eq!(checked.report["tls"]["certificate"]["self_signed"], true);
}
each_version!(self_signed_certificate);

async fn expired_certificate(version: DovecotVersion) {
    let checked = certificate_situation(version, CertChoice::Expired, "certificate_expired").await;
    // 1 January 2021, the end date the harness gave it.
    assert_eq!(
        checked.report["tls"]["certificate"]["not_after"],
        1_609_459_200
    );
    checked.assert_title_says("1 January 2021");
}
each_version!(expired_certificate);

async fn certificate_for_another_host(version: DovecotVersion) {
    let checked =
        certificate_situation(version, CertChoice::WrongHost, "certificate_wrong_host").await;
    assert_eq!(
        checked.report["tls"]["certificate"]["names"],
        json!(["mail.example.net"])
    );
    assert!(
        checked.report["verdict"]["advice"]
            .as_str()
            .unwrap()
            .contains("mail.example.net"),
        "{:#}",
        checked.report
    );
}
each_version!(certificate_for_another_host);

// ---------------------------------------------------------------------------------------
// Situations no Dovecot produces.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listens_on_the_port() {
    let closed = server(
        "Closed",
        "127.0.0.1",
        closed_port(),
        TlsMode::Implicit,
        None,
    );
    check_alone_fails(closed, "connection_refused", "connect").await;
}

/// Accepts connections and never says a word, in both encryption modes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_greets() {
    let silent = fake_imap::serve_silent().await;
    let port = silent.port();
    let (app, browser) = app_alone(vec![
        server("Silent", "127.0.0.1", port, TlsMode::StartTls, None),
        server("Silent TLS", "127.0.0.1", port, TlsMode::Implicit, None),
    ])
    .await;

    let checked = check(&app, &browser, "Silent", "whatever-password").await;
    checked.expect("timeout", "");
    // The greeting waited its step limit, then a TLS handshake was tried and got no answer.
    assert_eq!(
        checked.steps_in_a_line(),
        "resolve passed, connect passed, greeting failed, tls_probe failed"
    );
    checked.assert_title_says("waiting for the server's greeting");

    let checked = check(&app, &browser, "Silent TLS", "whatever-password").await;
    checked.expect("timeout", "").failed_at("tls_handshake");
    checked.assert_title_says("setting up encryption");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresolvable_host() {
    let nowhere = server(
        "Nowhere",
        "nonexistent.invalid",
        993,
        TlsMode::Implicit,
        None,
    );
    check_alone_fails(nowhere, "host_not_found", "resolve").await;
}

const OAUTH_CAPABILITIES: &str = "IMAP4rev1 LOGINDISABLED AUTH=XOAUTH2 AUTH=OAUTHBEARER";

/// The fake IMAP server offering only OAuth: LOGINDISABLED, AUTH=XOAUTH2 and
/// AUTH=OAUTHBEARER. It records every line it receives.
async fn oauth_only(tls: Option<std::sync::Arc<ServerConfig>>) -> fake_imap::Fake {
    let script = Script {
        greeting: Some(format!("* OK [CAPABILITY {OAUTH_CAPABILITIES}] OAuth only")),
        capabilities: OAUTH_CAPABILITIES.into(),
        capabilities_after_tls: OAUTH_CAPABILITIES.into(),
        login_reply: "NO only OAuth here".into(),
        ..Script::default()
    };
    fake_imap::serve(script, tls).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_offering_only_non_password_mechanisms() {
    let ca = TestCa::new();
    let plain = oauth_only(None).await;
    let tls = oauth_only(Some(
        ca.issue(&["localhost"], Validity::current())
            .server_config(),
    ))
    .await;
    let (app, browser) = app_alone(vec![
        server("OAuth", "127.0.0.1", plain.port(), TlsMode::None, None),
        server(
            "OAuth TLS",
            "localhost",
            tls.port(),
            TlsMode::Implicit,
            Some(ca.pem_file.clone()),
        ),
    ])
    .await;
    for name in ["OAuth", "OAuth TLS"] {
        let checked = check(&app, &browser, name, "secret-oauth-test").await;
        checked
            .expect("no_password_mechanism", "")
            .failed_at("login");
        assert!(
            checked.title().contains("XOAUTH2, OAUTHBEARER"),
            "{name}: {}",
            checked.title()
        );
    }
    for server in [&plain, &tls] {
        let received = server.received();
        assert!(!received.is_empty(), "the check spoke to the stand-in");
        assert!(
            received.iter().all(|l| !l.contains("secret-oauth-test")
                && !l.to_ascii_uppercase().contains("LOGIN ")
                && !l.to_ascii_uppercase().contains("AUTHENTICATE")),
            "no sign-in may be attempted: {received:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The real binary's logs.

/// Every form in which `password` could end up in a log.
fn encodings(password: &str) -> Vec<String> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut forms = vec![
        password.to_owned(),
        // A form body, and percent-encoding.
        serde_urlencoded::to_string([("p", password)]).unwrap()[2..].to_owned(),
        url::form_urlencoded::byte_serialize(password.as_bytes())
            .collect::<String>()
            .replace('+', "%20"),
        // JSON and Debug escaping.
        serde_json::to_string(password).unwrap(),
        format!("{password:?}"),
        // On the IMAP wire: SASL PLAIN and the bare password.
        b64.encode(format!("\0{USER}\0{password}")),
        b64.encode(password),
    ];
    forms.sort();
    forms.dedup();
    forms
}

fn wait_for_http(port: u16) -> bool {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Longer limits than the other tests: this one makes two failed logins in a row, and
/// Dovecot answers the second one 4 s late (its penalty for the address).
const LOGS_STEP_SECS: u64 = 8;
const LOGS_TOTAL_SECS: u64 = 20;

async fn no_password_reaches_the_logs_of_the_real_binary(version: DovecotVersion) {
    const POLICY_SECRET: &str = "logs-test-policy-secret-0123456789";
    let dir = crate::dovecot::Install::of(version).tempdir("mkdb-");
    let db_path = dir.path().join("mailkeys.db");
    let database_url = format!("sqlite://{}", db_path.display());
    let (web_port, policy_port) = (closed_port(), closed_port());

    // Dovecot on the binary's database, reporting logins to the binary's policy listener.
    let dovecot = Dovecot::start(DovecotOptions {
        policy_url: Some(format!(
            "http://127.0.0.1:{policy_port}{}",
            mailkeys::dovecot::policy::PATH
        )),
        policy_secret: Some(POLICY_SECRET.into()),
        ..DovecotOptions::new(version, DovecotDb::Sqlite(db_path.clone()))
    })
    .await;
    let ca = dovecot.ca_cert_pem.display().to_string();
    let config = format!(
        r#"database_url = "{database_url}"
listen = "127.0.0.1:{web_port}"
imap_host = "localhost"
imap_port = {imaps}
hash_main_memory_kib = 1024
hash_main_iterations = 1
checks_per_minute = 100
check_step_timeout_secs = {LOGS_STEP_SECS}
check_total_timeout_secs = {LOGS_TOTAL_SECS}
policy_listen = "127.0.0.1:{policy_port}"
policy_secret = "{POLICY_SECRET}"

[[mail_servers]]
name = "IMAPS"
host = "localhost"
port = {imaps}
tls = "implicit"
ca_file = "{ca}"

[[mail_servers]]
name = "STARTTLS"
host = "localhost"
port = {imap}
tls = "starttls"
ca_file = "{ca}"
"#,
        imaps = dovecot.imaps_port,
        imap = dovecot.imap_port,
    );
    let config_path = dir.path().join("mailkeys.toml");
    std::fs::write(&config_path, config).unwrap();
    let stdout_path = dir.path().join("stdout.log");
    let stderr_path = dir.path().join("stderr.log");
    let command = |log_name: &str| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mailkeys"));
        command
            .arg("--config")
            .arg(&config_path)
            .env("RUST_LOG", "trace")
            .env("DATABASE_URL", &database_url)
            .env_remove("MAILKEYS_CONFIG")
            .stdout(std::fs::File::create(dir.path().join(format!("{log_name}.out"))).unwrap())
            .stderr(std::fs::File::create(dir.path().join(format!("{log_name}.err"))).unwrap());
        command
    };

    // The account, made with the CLI (main password on stdin).
    let mut add = command("user-add")
        .args(["user", "add", USER, "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut stdin = add.stdin.take().unwrap();
        writeln!(stdin, "{PASSWORD}").unwrap();
    }
    let status = add.wait().unwrap();
    assert!(
        status.success(),
        "user add failed: {}",
        std::fs::read_to_string(dir.path().join("user-add.err")).unwrap_or_default()
    );

    let mut serve = command("serve");
    serve
        .arg("serve")
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap());
    let mut child = serve.spawn().unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let up = tokio::task::spawn_blocking(move || wait_for_http(web_port))
        .await
        .unwrap();
    if !up {
        let _ = child.kill();
        panic!(
            "mailkeys serve did not start: {}",
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        );
    }
    let child = Kill(child);

    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let browser = Browser {
        client,
        base: format!("http://127.0.0.1:{web_port}"),
    };
    assert_eq!(
        browser.sign_in(USER, PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let app_password = browser.create_app_password("Phone").await.plaintext;

    let api_check = |server: &'static str, password: String| {
        let browser = &browser;
        async move {
            let me: Value = browser.get("/api/me").await.json().await.unwrap();
            let started = Instant::now();
            let response = browser
                .client
                .post(format!("{}/api/check", browser.base))
                .header("x-csrf-token", me["csrf_token"].as_str().unwrap())
                .json(&json!({"server": server, "password": password}))
                .send()
                .await
                .unwrap();
            let report: Value = response.json().await.unwrap();
            assert!(
                started.elapsed() <= Duration::from_secs(LOGS_TOTAL_SECS) + MARGIN,
                "{report:#}"
            );
            report["verdict"]["kind"].as_str().unwrap().to_owned()
        }
    };
    // Successes first: after each failure Dovecot delays the next login from this address.
    let mut kinds = vec![
        api_check("IMAPS", app_password.clone()).await,
        api_check("STARTTLS", app_password.clone()).await,
    ];
    let page = browser
        .post(
            "/check",
            "/check",
            &[("server", "0"), ("password", app_password.as_str())],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("It works"), "{page}");
    browser.set_main_imap(true).await;
    kinds.push(api_check("IMAPS", PASSWORD.to_owned()).await);
    // Then a wrong password (none of the account's, as Mailkeys verifies), through the JSON
    // API and the stream.
    kinds.push(api_check("IMAPS", WRONG.to_owned()).await);
    let stream = browser
        .post(
            "/check",
            "/check/stream",
            &[("server", "1"), ("password", WRONG)],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(
        stream.contains(r#""kind":"not_this_accounts_password""#),
        "{stream}"
    );
    assert_eq!(
        kinds,
        [
            "success",
            "success",
            "success",
            "not_this_accounts_password"
        ],
        "{}",
        dovecot.log()
    );

    // Let Dovecot's last policy reports arrive, then stop the server.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(child);

    let mut logs = String::new();
    for name in ["stdout.log", "stderr.log", "user-add.out", "user-add.err"] {
        logs.push_str(&std::fs::read_to_string(dir.path().join(name)).unwrap_or_default());
    }
    // What the binary logs at trace: request spans and SQL statements (no bound values).
    assert!(
        logs.contains("TRACE") && logs.contains("/api/check") && logs.contains("sqlx::query"),
        "RUST_LOG=trace should have logged requests and queries:\n{}",
        &logs[..logs.len().min(4000)]
    );
    let secret_part = app_password[7..].to_owned();
    let mut leaks = Vec::new();
    for (what, password) in [
        ("main password", PASSWORD),
        ("app password", app_password.as_str()),
        ("app password secret", secret_part.as_str()),
        ("wrong password", WRONG),
    ] {
        let mut forms = encodings(password);
        forms.push(password.replace('-', ""));
        for form in forms {
            if let Some(at) = logs.find(&form) {
                let from = logs[..at].rfind('\n').map_or(0, |n| n + 1);
                let to = logs[at..].find('\n').map_or(logs.len(), |n| at + n);
                leaks.push(format!("{what} as {form:?}: {}", &logs[from..to]));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "passwords in the logs:\n{}",
        leaks.join("\n")
    );
    let dovecot_log = dovecot.log();
    for password in [PASSWORD, app_password.as_str(), WRONG] {
        assert!(
            !dovecot_log.contains(password),
            "a password in Dovecot's log:\n{dovecot_log}"
        );
    }
}
each_version!(no_password_reaches_the_logs_of_the_real_binary);
