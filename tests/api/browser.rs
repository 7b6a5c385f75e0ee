//! The real UI in a real browser: headless Chromium driven through chromedriver (WebDriver),
//! clicking through the pages the way a new user would, with and without JavaScript.
//!
//! These tests run on SQLite only: what they test is the pages, the forms and static/app.js
//! in a browser, not the store (every other module covers both backends).
//!
//! They need `chromedriver` and `chromium` on PATH (Debian packages chromium-driver and
//! chromium, which scripts/test installs). When either is missing the tests fail, loudly:
//! they never skip. Each test starts its own chromedriver on a free loopback port, one
//! Chromium session with a fresh profile, and stops both when it ends, even when it fails.

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use mailkeys::infra::hashing::verify_stored;
use secrecy::SecretString;
use serde_json::{json, Value};

use mailkeys_test_support::prelude::*;

/// How long a page or a condition may take before the test fails.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------
// Harness: chromedriver, a Chromium session, and a few user-level actions.

/// `name` on PATH, or a failure that says how to get it.
fn program(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` was not found on PATH, and the browser tests (tests/api/browser.rs) \
                 need it. Run scripts/test, which installs Chromium and its WebDriver \
                 (Debian packages chromium and chromium-driver)."
            )
        })
}

/// A chromedriver process on a free loopback port, killed when dropped.
struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    fn start() -> Self {
        let mut child = Command::new(program("chromedriver"))
            // Port 0: chromedriver picks a free port and prints it. It only accepts local
            // connections by default.
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let stdout = child.stdout.take().expect("chromedriver stdout");
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        // Reads the port, then keeps draining stdout until chromedriver exits.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("started successfully on port ").nth(1) {
                    let _ = port_tx.send(rest.trim().trim_end_matches('.').to_owned());
                }
            }
        });
        match port_rx.recv_timeout(PATIENCE) {
            Ok(port) => ChromeDriver {
                child,
                url: format!("http://127.0.0.1:{port}"),
            },
            Err(_) => {
                let _ = child.kill();
                let status = child.wait();
                panic!("chromedriver did not report its port within {PATIENCE:?} ({status:?})");
            }
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Chromium DevTools command sent through chromedriver's `goog/cdp/execute` endpoint.
#[derive(Debug)]
pub(crate) struct Cdp {
    pub(crate) cmd: &'static str,
    pub(crate) params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.expect("a WebDriver session");
        base_url.join(&format!("session/{session}/goog/cdp/execute"))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (reqwest::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (reqwest::Method::POST, Some(body.to_string()))
    }
}

/// Starts chromedriver and headless Chromium (JavaScript on or off), runs `body` with the
/// session, then ends the session and chromedriver whatever happened, and passes a failure on.
pub(crate) async fn in_browser<F, Fut>(javascript: bool, body: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let chromium = program("chromium");
    let driver = ChromeDriver::start();
    let profile = tempfile::tempdir().unwrap();
    let mut options = json!({
        "binary": chromium,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            // Without these Chromium phones home, and the closed network refuses it.
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
            format!("--user-data-dir={}", profile.path().display()),
        ],
    });
    if !javascript {
        options["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
    }
    let mut capabilities = Capabilities::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert("goog:chromeOptions".into(), options);
    capabilities.insert(
        "timeouts".into(),
        json!({ "pageLoad": PATIENCE.as_millis() as u64, "script": PATIENCE.as_millis() as u64 }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "chromedriver could not start Chromium ({}): {e}",
                chromium.display()
            )
        });
    // In its own task, so that a failing assertion still lets us close the browser.
    let outcome = tokio::spawn(body(client.clone())).await;
    let _ = client.close().await;
    drop(driver);
    if let Err(error) = outcome {
        match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("browser test task failed: {error}"),
        }
    }
}

/// Runs `body` in a browser (as [`in_browser`]) that has signed in as `email` at `base`.
pub(crate) async fn signed_in_browser<F, Fut>(
    javascript: bool,
    base: String,
    email: &'static str,
    body: F,
) where
    F: FnOnce(Client, String) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    in_browser(javascript, move |b| async move {
        sign_in(&b, &base, email).await;
        body(b, base).await
    })
    .await
}

/// Creates alice's account on `app`, then runs `body` in a browser signed in as her, with
/// the app (which lives until the browser has closed) and its address.
pub(crate) async fn as_alice<F, Fut>(app: TestApp, javascript: bool, body: F)
where
    F: FnOnce(Client, Arc<TestApp>, String) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let app = Arc::new(app);
    app.add_user(ALICE, PASSWORD, false).await;
    let shared = Arc::clone(&app);
    signed_in_browser(javascript, app.url(""), ALICE, move |b, base| {
        body(b, shared, base)
    })
    .await
}

/// Waits for the element `css`; fails with the page's address and text when it never comes.
pub(crate) async fn find(b: &Client, css: &str) -> Element {
    match b
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
    {
        Ok(element) => element,
        Err(e) => panic!("no `{css}` on the page: {e}\n{}", page_summary(b).await),
    }
}

/// The address and visible text of the current page, for failure messages.
pub(crate) async fn page_summary(b: &Client) -> String {
    let url = b
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default();
    let text = b
        .execute(
            "return document.body ? document.body.innerText : ''",
            vec![],
        )
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    format!("page {url}:\n{text}")
}

/// Whether WebDriver says the element found is gone: the page was replaced (a redirect
/// after a POST, say) between finding it and using it. Then it is found again.
fn stale(e: &fantoccini::error::CmdError) -> bool {
    matches!(e, fantoccini::error::CmdError::Standard(w)
        if w.error == fantoccini::error::ErrorStatus::StaleElementReference)
}

/// Waits for the element `css` and clicks it.
pub(crate) async fn click(b: &Client, css: &str) {
    for _ in 0..5 {
        match find(b, css).await.click().await {
            Err(e) if stale(&e) => continue,
            other => return other.map(drop).unwrap(),
        }
    }
    panic!(
        "`{css}` was replaced five times in a row\n{}",
        page_summary(b).await
    );
}

pub(crate) async fn text_of(b: &Client, css: &str) -> String {
    for _ in 0..5 {
        match find(b, css).await.text().await {
            Err(e) if stale(&e) => continue,
            other => return other.unwrap(),
        }
    }
    panic!(
        "`{css}` was replaced five times in a row\n{}",
        page_summary(b).await
    );
}

/// How many elements `css` the page has now.
pub(crate) async fn count_on_page(b: &Client, css: &str) -> usize {
    b.find_all(Locator::Css(css)).await.unwrap().len()
}

/// The text of the element `css` inside `element`.
pub(crate) async fn text_in(element: &Element, css: &str) -> String {
    let inner = element.find(Locator::Css(css)).await.unwrap();
    inner.text().await.unwrap()
}

/// Runs a script in the page and returns its result.
pub(crate) async fn js(b: &Client, script: &str) -> Value {
    b.execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
}

/// Polls `script` (which returns true or false) until it returns true.
pub(crate) async fn wait_until(b: &Client, what: &str, script: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if js(b, script).await == Value::Bool(true) {
            return;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting until {what}\n{}", page_summary(b).await);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn path_of(b: &Client) -> String {
    b.current_url().await.unwrap().path().to_owned()
}

pub(crate) async fn type_into(b: &Client, css: &str, text: &str) {
    let field = find(b, css).await;
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Signs in through the form and lands on the dashboard.
pub(crate) async fn sign_in(b: &Client, base: &str, email: &str) {
    b.goto(&format!("{base}/sign-in")).await.unwrap();
    type_into(b, "input[name=email]", email).await;
    type_into(b, "input[name=password]", PASSWORD).await;
    click(b, "main form button[type=submit]").await;
    find(b, "section#create").await;
    assert_eq!(path_of(b).await, "/");
    let who = text_of(b, "nav .who").await;
    assert!(
        who == email || who == format!("{email} (admin)"),
        "signed in as {email}, the page says {who:?}"
    );
}

/// Creates an app password with the dashboard form; returns the password the page shows.
pub(crate) async fn create_app_password(b: &Client, name: &str) -> String {
    type_into(b, "#create input[name=name]", name).await;
    click(b, "#create button[type=submit]").await;
    let shown = text_of(b, "code#new-password").await;
    assert!(
        text_of(b, "main h1").await.contains(name),
        "the created page names “{name}”"
    );
    shown
}

/// Checks in the database that `shown` is the app password called `name`; returns its id.
pub(crate) async fn assert_stored(app: &TestApp, shown: &str, name: &str) -> i64 {
    let re = regex::Regex::new(r"^[a-km-np-z2-9]{6}(-[a-km-np-z2-9]{6}){4}$").unwrap();
    assert!(re.is_match(shown), "an app password is shown: {shown:?}");
    let id = app_password_id(app, &shown[..6]).await;
    let (stored_name, hash): (String, String) =
        sqlx::query_as("SELECT name, password_hash FROM app_passwords WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(stored_name, name);
    assert!(
        verify_stored(&SecretString::from(shown.to_owned()), &hash).unwrap(),
        "the password shown is the one stored"
    );
    id
}

/// The dashboard table row whose name cell is `name`.
pub(crate) async fn row_named(b: &Client, name: &str) -> Element {
    find(b, "table.passwords").await;
    for row in b
        .find_all(Locator::Css("table.passwords tbody tr"))
        .await
        .unwrap()
    {
        let cell = row.find(Locator::Css("td.name")).await.unwrap();
        if cell.text().await.unwrap() == name {
            return row;
        }
    }
    panic!("no row named {name:?}\n{}", page_summary(b).await)
}

/// Where screenshots go: target/screenshots/ (next to target/tmp, wherever the target is).
pub(crate) fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(crate) async fn save_screenshot(b: &Client, file: &str) -> PathBuf {
    let png = b.screenshot().await.unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "WebDriver returned a PNG"
    );
    let path = screenshot_dir().join(file);
    // `file` may name a folder under target/screenshots/ too.
    std::fs::create_dir_all(path.parent().expect("a file in a folder")).unwrap();
    std::fs::write(&path, &png).unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size > 1000, "{} is only {size} bytes", path.display());
    path
}

// ---------------------------------------------------------------------------------------
// Scenarios.

/// Sign in, create "Phone", see it once; Copy puts exactly the shown password on the
/// clipboard; the dashboard then lists "Phone" and its lookup id but never the secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_app_password_is_shown_once_and_copy_copies_exactly_it() {
    let app = spawn_app(Backend::Sqlite).await;
    as_alice(app, true, move |b, app, base| async move {
        assert!(
            text_of(&b, "main").await.contains("no app passwords yet"),
            "a new user starts with none"
        );

        let shown = create_app_password(&b, "Phone").await;
        assert_stored(&app, &shown, "Phone").await;
        let page = text_of(&b, "main").await;
        assert!(page.contains("mail.example.org") && page.contains("993"));

        // The Copy button is there because app.js unhid it.
        let copy = find(&b, "button.copy").await;
        assert_eq!(
            js(&b, "return document.querySelector('button.copy').hidden").await,
            json!(false),
            "app.js unhides the Copy button"
        );
        assert!(copy.is_displayed().await.unwrap());
        assert_eq!(copy.text().await.unwrap(), "Copy");

        // Grant the page clipboard access through CDP (a headless browser has nobody to ask),
        // click, and read the real clipboard back with navigator.clipboard.readText().
        b.issue_cmd(Cdp {
            cmd: "Browser.grantPermissions",
            params: json!({
                "origin": base,
                "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"],
            }),
        })
        .await
        .expect("clipboard permission granted through CDP");
        copy.click().await.unwrap();
        wait_until(
            &b,
            "the button says Copied",
            "return document.querySelector('button.copy').textContent === 'Copied'",
        )
        .await;
        let clipboard = b
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 navigator.clipboard.readText().then(done, (e) => done('read failed: ' + e));",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            clipboard,
            json!(shown),
            "the clipboard holds exactly the shown password"
        );

        // Done: back on the dashboard, the row shows the name and lookup id, not the secret.
        click(&b, "main a.button[href='/']").await;
        let row = row_named(&b, "Phone").await;
        let cells = row.text().await.unwrap();
        assert_eq!(
            text_in(&row, "code").await,
            &shown[..6],
            "the row shows the lookup id"
        );
        assert!(cells.contains("active"), "{cells}");
        let source = b.source().await.unwrap();
        assert!(
            !source.contains(&shown[7..]),
            "the dashboard never shows the secret again"
        );
        let user_id = app.user_id(ALICE).await;
        assert_eq!(
            app.audit_events(user_id).await,
            ["sign_in", "app_password_created"]
        );
    })
    .await;
}

/// Revoke through the confirmation page: the row then shows "revoked", and the database agrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_through_the_confirmation_page_marks_the_row_revoked() {
    let app = spawn_app(Backend::Sqlite).await;
    as_alice(app, true, move |b, app, _base| async move {
        let shown = create_app_password(&b, "Phone").await;
        let id = assert_stored(&app, &shown, "Phone").await;
        click(&b, "main a.button[href='/']").await;

        row_named(&b, "Phone")
            .await
            .find(Locator::Css("a.danger"))
            .await
            .expect("an active row has a Revoke link")
            .click()
            .await
            .unwrap();
        let reason = find(&b, "main form input[name=reason]").await;
        assert_eq!(path_of(&b).await, format!("/app-passwords/{id}/revoke"));
        assert_eq!(text_of(&b, "main h1").await, "Revoke “Phone”?");
        reason.send_keys("lost the phone").await.unwrap();
        click(&b, "main form button.danger").await;

        let notice = text_of(&b, "p.notice").await;
        assert!(notice.contains("revoked"), "{notice}");
        assert_eq!(path_of(&b).await, "/");
        // Past passwords are out of the way until asked for (a link: works without JS).
        assert_eq!(count_on_page(&b, "table.passwords").await, 0);
        click(&b, "main a[href='/?past=1#past']").await;
        let row = row_named(&b, "Phone").await;
        assert_eq!(text_in(&row, ".badge").await, "revoked");
        assert_eq!(
            row.attr("class").await.unwrap().as_deref(),
            Some("status-revoked")
        );
        assert!(
            row.find_all(Locator::Css("a.danger"))
                .await
                .unwrap()
                .is_empty(),
            "a revoked password has no Revoke link"
        );
        assert!(
            !text_of(&b, "main").await.contains("Revoke all"),
            "nothing left to revoke"
        );

        let (revoked_at, reason): (Option<i64>, Option<String>) =
            sqlx::query_as("SELECT revoked_at, revoked_reason FROM app_passwords WHERE id = $1")
                .bind(id)
                .fetch_one(&app.db.pool)
                .await
                .unwrap();
        assert!(revoked_at.is_some(), "revoked in the database");
        assert_eq!(reason.as_deref(), Some("lost the phone"));
        app.assert_audited(ALICE, "app_password_revoked").await;
    })
    .await;
}

/// With JavaScript the connection test streams: the live step list fills in as the steps
/// happen (NDJSON from /check/stream, read by static/app.js), then the verdict replaces it,
/// all without leaving the page. The Caps Lock warning is there, hidden until Caps Lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_test_streams_its_steps_in_the_page() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.mail_servers = vec![nowhere()];
        s.checks_per_minute = 1;
    })
    .await;
    as_alice(app, true, move |b, app, _base| async move {
        click(&b, "nav a[href='/check']").await;
        find(&b, "form#check-form").await;
        assert!(text_of(&b, "select[name=server]")
            .await
            .contains("Nowhere (127.0.0.1:"));

        // Caps Lock warning: present, hidden, shown while Caps Lock is on (a synthetic key
        // event: WebDriver cannot toggle Caps Lock), hidden again when it is off.
        let warning = find(&b, "#caps-warning").await;
        assert!(warning.attr("hidden").await.unwrap().is_some());
        assert!(!warning.is_displayed().await.unwrap(), "hidden by default");
        js(
            &b,
            "document.getElementById('check-password').dispatchEvent(
                new KeyboardEvent('keydown', { key: 'A', modifierCapsLock: true }))",
        )
        .await;
        assert!(
            warning.is_displayed().await.unwrap(),
            "shown with Caps Lock"
        );
        js(
            &b,
            "document.getElementById('check-password').dispatchEvent(
                new KeyboardEvent('keyup', { key: 'a', modifierCapsLock: false }))",
        )
        .await;
        assert!(!warning.is_displayed().await.unwrap(), "hidden again");

        // Record what the live list does, and mark this page: a real form submission would
        // load a new page and lose the mark.
        js(
            &b,
            "window.stillThisPage = true;
             window.liveShown = [];
             const live = document.getElementById('check-live');
             new MutationObserver((records) => {
               for (const r of records) {
                 if (r.attributeName === 'hidden') {
                   window.liveShown.push(r.oldValue === null ? 'hidden' : 'shown');
                 }
               }
             }).observe(live, { attributes: true, attributeOldValue: true });",
        )
        .await;
        type_into(&b, "#check-password", "hunter2-secret").await;
        click(&b, "#check-form button[type=submit]").await;

        let verdict = find(&b, "#check-output #check-result").await;
        assert!(
            verdict
                .text()
                .await
                .unwrap()
                .to_lowercase()
                .contains("refused"),
            "{}",
            verdict.text().await.unwrap()
        );
        assert_eq!(
            verdict.attr("class").await.unwrap().as_deref(),
            Some("card result failed")
        );
        assert_eq!(
            js(&b, "return window.stillThisPage === true").await,
            json!(true),
            "the test ran in the page (fetch + stream), not by posting the form"
        );
        assert_eq!(path_of(&b).await, "/check");
        // The live list was shown while the steps ran, then hidden for the verdict; its
        // items are the ones app.js wrote from the stream ("label (N ms): summary").
        assert_eq!(
            js(&b, "return window.liveShown").await,
            json!(["shown", "hidden"])
        );
        let steps: Vec<String> = serde_json::from_value(
            js(
                &b,
                "return [...document.querySelectorAll('#check-live li')]
                   .map((li) => li.className + ' | ' + li.textContent)",
            )
            .await,
        )
        .unwrap();
        assert!(!steps.is_empty(), "the stream produced live steps");
        let last = steps.last().unwrap();
        assert!(
            last.starts_with("failed | ") && last.contains(" ms): "),
            "{steps:?}"
        );
        assert!(
            find(&b, "#check-form button[type=submit]")
                .await
                .is_enabled()
                .await
                .unwrap(),
            "the button is enabled again"
        );
        assert!(!b.source().await.unwrap().contains("hunter2-secret"));
        app.assert_audited(ALICE, "connection_test").await;

        // Over the limit (one check a minute here), the page shows the server's reason in
        // place of the old verdict, and the button works again.
        click(&b, "#check-form button[type=submit]").await;
        wait_until(
            &b,
            "the refusal is shown",
            "return document.getElementById('check-output').textContent.includes('Too many')",
        )
        .await;
        assert_eq!(
            text_of(&b, "#check-output").await,
            "Too many attempts. Please wait a minute and try again."
        );
        assert_eq!(count_on_page(&b, "#check-result").await, 0);
        assert_eq!(
            js(&b, "return window.stillThisPage === true").await,
            json!(true)
        );
        wait_until(
            &b,
            "the button is enabled again",
            "return !document.querySelector('#check-form button[type=submit]').disabled",
        )
        .await;
    })
    .await;
}

/// Without JavaScript everything still works through plain forms: creating an app password
/// (no dead Copy button shown), testing it from the created page, and the connection test
/// form, whose POST returns the whole page with the verdict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_javascript_the_forms_still_work() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.mail_servers = vec![nowhere()]).await;
    as_alice(app, false, move |b, app, base| async move {
        let shown = create_app_password(&b, "Laptop").await;
        assert_stored(&app, &shown, "Laptop").await;
        assert_eq!(
            js(&b, "return document.querySelector('button.copy').hidden").await,
            json!(true),
            "JavaScript is really off: app.js did not unhide the Copy button"
        );
        // Nothing can copy, so the Copy button (hidden in the HTML, unhidden by app.js) must
        // stay out of sight rather than sit there doing nothing.
        let copy = find(&b, "button.copy").await;
        assert!(
            copy.attr("hidden").await.unwrap().is_some(),
            "hidden in the HTML"
        );
        assert!(
            !copy.is_displayed().await.unwrap(),
            "the Copy button has the `hidden` attribute but is displayed (computed display: \
             {}): a `display` rule in static/style.css overrides [hidden]",
            copy.css_value("display").await.unwrap()
        );

        // "Test it now" on the created page posts the new password to the check.
        click(&b, "main form[action='/check'] button[type=submit]").await;
        let verdict = text_of(&b, "#check-result").await;
        assert!(verdict.to_lowercase().contains("refused"), "{verdict}");
        assert_eq!(path_of(&b).await, "/check");

        // The check form itself, typed into and posted.
        b.goto(&format!("{base}/check")).await.unwrap();
        find(&b, "form#check-form").await;
        assert_eq!(
            count_on_page(&b, "#check-result").await,
            0,
            "no verdict before the test"
        );
        type_into(&b, "#check-password", &shown).await;
        click(&b, "#check-form button[type=submit]").await;
        let verdict = find(&b, "#check-output #check-result").await;
        let text = verdict.text().await.unwrap();
        assert!(text.to_lowercase().contains("refused"), "{text}");
        assert!(text.contains("Nowhere"), "{text}");
        assert!(
            !find(&b, "#check-live").await.is_displayed().await.unwrap(),
            "the live list is a JavaScript thing"
        );
        assert!(
            !b.source().await.unwrap().contains(&shown[7..]),
            "the result page does not echo the password"
        );
        let tests = app
            .audit_events_of(ALICE)
            .await
            .iter()
            .filter(|e| *e == "connection_test")
            .count();
        assert_eq!(tests, 2, "both checks ran");
    })
    .await;
}

/// Screenshots of the created page and the dashboard, for people to look at
/// (target/screenshots/created.png and dashboard.png).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_of_the_created_page_and_the_dashboard() {
    let app = spawn_app(Backend::Sqlite).await;
    as_alice(app, true, move |b, _app, _base| async move {
        create_app_password(&b, "Phone").await;
        let created = save_screenshot(&b, "created.png").await;
        click(&b, "main a.button[href='/']").await;
        row_named(&b, "Phone").await;
        let dashboard = save_screenshot(&b, "dashboard.png").await;
        println!("screenshots: {} {}", created.display(), dashboard.display());
    })
    .await;
}

/// An admin runs the Dovecot self-check from the page against a real Dovecot 2.4, and sees
/// every step pass; screenshot in target/screenshots/admin-dovecot.png.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_runs_the_dovecot_self_check_in_the_browser() {
    use crate::dovecot_selfcheck::{wired, ADMIN};
    let w = wired(
        mailkeys::dovecot::DovecotVersion::V2_4,
        Backend::Sqlite,
        |_| {},
    )
    .await;
    signed_in_browser(true, w.app.url(""), ADMIN, move |b, base| async move {
        b.goto(&format!("{base}/admin")).await.unwrap();
        click(&b, "main a[href='/admin/dovecot']").await;
        click(
            &b,
            "main form[action='/admin/dovecot/check#result'] button[type=submit]",
        )
        .await;
        let result = find(&b, "#result").await.text().await.unwrap();
        assert_eq!(
            result,
            "Dovecot and Mailkeys work together",
            "{}",
            page_summary(&b).await
        );
        let rows = count_on_page(&b, "table.selfcheck tbody tr.pass").await;
        assert_eq!(rows, 6, "{}", page_summary(&b).await);
        let shot = save_screenshot(&b, "admin-dovecot.png").await;
        println!("screenshot: {}", shot.display());
        // The result table at a phone's and a desktop's width, light and dark.
        crate::browser_layout::check_page(&b, "admin-dovecot-result").await;
    })
    .await;
    drop(w);
}
