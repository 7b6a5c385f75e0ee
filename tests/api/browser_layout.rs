//! Every page in real Chromium at a phone's and a desktop's width, light and dark: no
//! sideways scrolling, the dark theme really applied, and axe-core (vendored in
//! tests/vendor/axe.min.js, MPL-2.0) finding nothing at all. (The keyboard-only path is in
//! browser_keyboard.rs.)
//!
//! Screenshots of every page in every mode go to target/screenshots/layout/.

use fantoccini::Client;
use mailkeys::startup::setup_link_if_needed;
use serde_json::{json, Value};

use crate::browser::{
    click, create_app_password, find, in_browser, js, screenshot_dir, sign_in, text_of, type_into,
    wait_until, Cdp,
};
use mailkeys_test_support::prelude::*;

/// axe-core, from the npm package `axe-core` (see tests/vendor/axe-core.LICENSE).
const AXE: &str = include_str!("../vendor/axe.min.js");

/// An admin with a long address, so that wrapping is tested wherever the address shows.
const ADMIN: &str = "administrator.with.a.rather.long.mailbox@mail.department.example.org";

/// Body background of each theme (static/style.css, `--bg`).
const LIGHT_BG: &str = "rgb(245, 246, 248)";
const DARK_BG: &str = "rgb(20, 23, 29)";

/// Shows the current page from 320 to 1440 px wide, light and dark, and checks each:
/// nothing wider than the window and the theme's background; at 360 and 1280 px (a phone,
/// a desktop) also no axe-core violation, and a screenshot.
pub(crate) async fn check_page(b: &Client, name: &str) {
    for width in [320_u32, 360, 1280, 1440] {
        for dark in [false, true] {
            b.issue_cmd(Cdp {
                cmd: "Emulation.setDeviceMetricsOverride",
                params: json!({ "width": width, "height": 800, "deviceScaleFactor": 1,
                                "mobile": width < 700 }),
            })
            .await
            .expect("viewport set through CDP");
            b.issue_cmd(Cdp {
                cmd: "Emulation.setEmulatedMedia",
                params: json!({ "features": [{ "name": "prefers-color-scheme",
                    "value": if dark { "dark" } else { "light" } }] }),
            })
            .await
            .expect("colour scheme set through CDP");
            let mode = format!(
                "{name} at {width} px, {}",
                if dark { "dark" } else { "light" }
            );
            // A phone (mobile emulation) widens its layout viewport to fit content that is
            // too wide, so a page that overflows shows as innerWidth > width as well as
            // scrollWidth > innerWidth: both count. The metrics apply within a frame or two.
            let fits = format!(
                "return window.innerWidth === {width}
                   && document.documentElement.scrollWidth <= {width}"
            );
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
            while js(b, &fits).await != json!(true) && std::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            if js(b, &fits).await != json!(true) {
                let too_wide = js(
                    b,
                    &format!(
                        "return [document.documentElement.scrollWidth, window.innerWidth,
                           ...[...document.querySelectorAll('body *')]
                           .filter((e) => e.getBoundingClientRect().right > {width} + 0.5)
                           .slice(0, 8)
                           .map((e) => e.tagName + '.' + e.className + ' '
                                + e.textContent.slice(0, 40))]"
                    ),
                )
                .await;
                panic!(
                    "{mode}: the page is wider than the screen \
                     ([scrollWidth, innerWidth, elements past the edge…]): {too_wide}"
                );
            }
            let background = js(b, "return getComputedStyle(document.body).backgroundColor").await;
            assert_eq!(
                background,
                json!(if dark { DARK_BG } else { LIGHT_BG }),
                "{mode}: the theme's background"
            );
            if width == 320 || width == 1440 {
                continue;
            }
            assert_no_axe_violations(b, &mode).await;
            let file = format!(
                "layout/{name}-{width}-{}.png",
                if dark { "dark" } else { "light" }
            );
            full_page_screenshot(b, &file).await;
        }
    }
}

/// The whole page, not only the window, as target/screenshots/`file`.
async fn full_page_screenshot(b: &Client, file: &str) {
    use base64::Engine as _;
    let shot = b
        .issue_cmd(Cdp {
            cmd: "Page.captureScreenshot",
            params: json!({ "format": "png", "captureBeyondViewport": true }),
        })
        .await
        .expect("a screenshot through CDP");
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().expect("PNG data"))
        .expect("base64");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let path = screenshot_dir().join(file);
    std::fs::create_dir_all(path.parent().expect("a folder")).unwrap();
    std::fs::write(&path, &png).unwrap();
}

/// The role Chromium's accessibility tree gives the first element `css` (what a screen
/// reader is told), through CDP.
async fn accessible_role(b: &Client, css: &str) -> String {
    let cdp = |cmd: &'static str, params: Value| async move {
        b.issue_cmd(Cdp { cmd, params })
            .await
            .unwrap_or_else(|e| panic!("{cmd}: {e}"))
    };
    let document = cdp("DOM.getDocument", json!({ "depth": 0 })).await;
    let node = cdp(
        "DOM.querySelector",
        json!({ "nodeId": document["root"]["nodeId"], "selector": css }),
    )
    .await;
    let tree = cdp(
        "Accessibility.getPartialAXTree",
        json!({ "nodeId": node["nodeId"], "fetchRelatives": false }),
    )
    .await;
    tree["nodes"][0]["role"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Runs axe-core on the page (every rule it runs by default) and fails on any violation.
async fn assert_no_axe_violations(b: &Client, mode: &str) {
    if js(b, "return typeof window.axe").await != json!("object") {
        // WebDriver runs this as a function body: the library's top-level `var axe` would
        // stay local, so it is handed to the window explicitly.
        b.execute(&format!("{AXE}\nwindow.axe = axe; return true;"), vec![])
            .await
            .expect("axe-core loads");
    }
    let violations = b
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then((r) => done(r.violations.map((v) => v.id + ' (' + v.impact + '): ' + v.help
                 + ' at ' + v.nodes.map((n) => n.target.join(' ')).join(', '))))
               .catch((e) => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .expect("axe-core runs");
    assert_eq!(violations, json!([]), "{mode}: axe-core violations");
}

/// What has the focus: `tag#id.class`.
pub(crate) async fn focused(b: &Client) -> String {
    js(
        b,
        "const e = document.activeElement;
         return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : '');",
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

/// Signed out: sign-in, the first-admin setup form, the used or unknown setup link (a plain
/// sentence, no status code or backticks) and the not-found page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_out_pages_fit_phones_and_desktops_in_both_themes() {
    let app = spawn_app(Backend::Sqlite).await;
    let link = setup_link_if_needed(&app.state).await.unwrap().unwrap();
    let setup = link[link.find("/setup/").unwrap()..].to_owned();
    let base = app.url("");
    in_browser(true, move |b| async move {
        b.goto(&format!("{base}/sign-in")).await.unwrap();
        find(&b, "input[name=email]").await;
        check_page(&b, "sign-in").await;
        type_into(&b, "input[name=email]", "nobody@example.org").await;
        type_into(&b, "input[name=password]", "not the password").await;
        click(&b, "main form button[type=submit]").await;
        find(&b, "p.error").await;
        check_page(&b, "sign-in-refused").await;

        b.goto(&format!("{base}{setup}")).await.unwrap();
        find(&b, "input[name=confirm]").await;
        check_page(&b, "setup").await;

        b.goto(&format!("{base}/setup/no-such-link")).await.unwrap();
        assert_eq!(text_of(&b, "main h1").await, "This link no longer works");
        let page = text_of(&b, "main").await;
        assert!(!page.contains("410") && !page.contains('`'), "{page}");
        assert!(page.contains("restart Mailkeys"), "{page}");
        check_page(&b, "setup-link-used").await;

        b.goto(&format!("{base}/no-such-page")).await.unwrap();
        assert_eq!(text_of(&b, "main h1").await, "Not found");
        check_page(&b, "not-found").await;
    })
    .await;
    drop(app);
}

/// Signed in as an admin with a long address and long or emoji password names: every page
/// of a user and an admin, the created page and the connection test's result included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_in_pages_fit_phones_and_desktops_in_both_themes() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.mail_servers = vec![nowhere()]).await;
    app.add_user(ADMIN, PASSWORD, true).await;
    let alice = app.add_user(ALICE, PASSWORD, false).await;
    // A failed sign-in, for the activity ("1 failure in a row") and the admin's search.
    let refused = app.browser().sign_in(ADMIN, "not the password").await;
    assert_eq!(refused.status(), reqwest::StatusCode::UNAUTHORIZED);
    let (done_job, lost_job) = activity_and_jobs(&app, alice).await;
    let base = app.url("");
    in_browser(true, move |b| async move {
        sign_in(&b, &base, ADMIN).await;
        let empty = text_of(&b, "main").await;
        assert!(empty.contains("create an app password below"), "{empty}");
        check_page(&b, "dashboard-empty").await;

        create_app_password(&b, "Phone").await;
        check_page(&b, "created").await;
        let long = "Laptop at the office of the department of rather long names 12";
        for name in [long, "📱 Work phone"] {
            b.goto(&format!("{base}/")).await.unwrap();
            create_app_password(&b, name).await;
        }
        b.goto(&format!("{base}/")).await.unwrap();
        find(&b, "table.passwords").await;
        check_page(&b, "dashboard").await;
        // Cards on a phone, yet still a table with column headers to a screen reader.
        b.issue_cmd(Cdp {
            cmd: "Emulation.setDeviceMetricsOverride",
            params: json!({ "width": 360, "height": 800, "deviceScaleFactor": 1, "mobile": true }),
        })
        .await
        .unwrap();
        wait_until(&b, "a phone's width", "return window.innerWidth === 360").await;
        assert_eq!(
            js(
                &b,
                "return getComputedStyle(document.querySelector('table.passwords td')).display"
            )
            .await,
            json!("block"),
            "cards at 360 px"
        );
        for (css, role) in [
            ("table.passwords", "table"),
            ("table.passwords th", "columnheader"),
            ("table.passwords td[data-label=Created]", "cell"),
        ] {
            assert_eq!(accessible_role(&b, css).await, role, "{css} at 360 px");
        }

        for (page, link) in [
            ("rename", "rename"),
            ("limits", "edit"),
            ("revoke", "revoke"),
        ] {
            b.goto(&format!("{base}/")).await.unwrap();
            click(&b, &format!("tbody tr:first-child a[href$='/{link}']")).await;
            find(&b, "main form").await;
            check_page(&b, page).await;
        }
        b.goto(&format!("{base}/app-passwords/revoke-all"))
            .await
            .unwrap();
        check_page(&b, "revoke-all").await;

        // Revoke the emoji one: the notice has the focus, the password moves to "past".
        b.goto(&format!("{base}/")).await.unwrap();
        click(&b, "a[href$='/revoke'][href*='app-passwords']").await;
        click(&b, "main form button.danger").await;
        find(&b, "p.notice").await;
        assert_eq!(focused(&b).await, "p#notice.notice");
        check_page(&b, "dashboard-notice").await;
        click(&b, "main a[href='/?past=1#past']").await;
        find(&b, "#past").await;
        check_page(&b, "dashboard-past").await;

        // Times in the browser's zone (app.js), here Tokyo's (UTC+9, no summer time).
        b.issue_cmd(Cdp {
            cmd: "Emulation.setTimezoneOverride",
            params: json!({ "timezoneId": "Asia/Tokyo" }),
        })
        .await
        .expect("time zone set through CDP");
        b.goto(&format!("{base}/account")).await.unwrap();
        let when = text_of(&b, "#activity time.exact").await;
        assert!(when.ends_with("GMT+9") && !when.contains("UTC"), "{when}");
        b.goto(&format!("{base}/")).await.unwrap();
        let title = find(&b, "td[data-label=Created] time")
            .await
            .attr("title")
            .await;
        let title = title.unwrap().unwrap_or_default();
        assert!(title.ends_with("GMT+9"), "the exact time on hover: {title}");
        b.goto(&format!("{base}/account")).await.unwrap();
        let activity = text_of(&b, "#activity").await;
        assert!(
            activity.contains("App password created: “📱 Work phone” (starts with "),
            "{activity}"
        );
        assert!(activity.contains("1 failure in a row."), "{activity}");
        for debug in ["\\u{", "\"\"", "reason \"", "1 failures"] {
            assert!(!activity.contains(debug), "{debug} in {activity}");
        }
        check_page(&b, "account").await;

        b.goto(&format!("{base}/check")).await.unwrap();
        check_page(&b, "check").await;
        type_into(&b, "#check-password", "not-an-app-password").await;
        click(&b, "#check-form button[type=submit]").await;
        find(&b, "#check-output #check-result").await;
        assert_eq!(focused(&b).await, "section#check-result.card result failed");
        assert_eq!(
            text_of(&b, "#check-result details summary").await,
            "Details"
        );
        check_page(&b, "check-result").await;

        b.goto(&format!("{base}/admin")).await.unwrap();
        check_page(&b, "admin-accounts").await;
        b.goto(&format!("{base}/admin/users/{alice}"))
            .await
            .unwrap();
        check_page(&b, "admin-user-alice").await;
        b.goto(&format!("{base}/admin/users/1")).await.unwrap();
        find(&b, "table.passwords").await;
        check_page(&b, "admin-user").await;
        b.goto(&format!("{base}/admin/dovecot")).await.unwrap();
        check_page(&b, "admin-dovecot").await;
        b.goto(&format!("{base}/admin/failed-sign-ins?address={ADMIN}"))
            .await
            .unwrap();
        find(&b, "table.activity").await;
        check_page(&b, "admin-failed-sign-ins").await;
        b.goto(&format!("{base}/admin/audit")).await.unwrap();
        find(&b, "table.audit").await;
        check_page(&b, "admin-audit").await;
        b.goto(&format!("{base}/admin?q=example&sort=activity"))
            .await
            .unwrap();
        check_page(&b, "admin-accounts-search").await;
        b.goto(&format!("{base}/admin/users/{alice}/confirm/disable"))
            .await
            .unwrap();
        check_page(&b, "admin-confirm-disable").await;
        b.goto(&format!("{base}/admin/users/{alice}/compromised"))
            .await
            .unwrap();
        check_page(&b, "admin-compromise-confirm").await;
        type_into(&b, "#reason", "found in a breach dump").await;
        click(&b, "main form button.danger").await;
        find(&b, "#step-mail-server").await;
        check_page(&b, "admin-compromise-done").await;
        for (page, path) in [
            ("second-factor", "/account/second-factor".to_owned()),
            ("admin-notices", "/admin/notices".to_owned()),
            ("admin-mail-setup", "/admin/mail-setup".to_owned()),
            (
                "admin-bulk-preview",
                "/admin/bulk-revoke?preview=1&domain=example.org".to_owned(),
            ),
            (
                "admin-factor-reset",
                format!("/admin/users/{alice}/second-factor/reset"),
            ),
            ("admin-activity", "/admin/activity".to_owned()),
            ("admin-activity-week", "/admin/activity?days=7".to_owned()),
            (
                "admin-bulk-job-done",
                format!("/admin/bulk-revoke/{done_job}"),
            ),
            (
                "admin-bulk-job-interrupted",
                format!("/admin/bulk-revoke/{lost_job}"),
            ),
        ] {
            b.goto(&format!("{base}{path}")).await.unwrap();
            find(&b, "main h1").await;
            check_page(&b, page).await;
        }
        // API tokens: the list, a new token shown once, the revocation's confirmation.
        b.goto(&format!("{base}/admin/api-tokens")).await.unwrap();
        find(&b, "main h1").await;
        check_page(&b, "admin-api-tokens-empty").await;
        type_into(
            &b,
            "#token-name",
            "Ticketing system of the department of long names",
        )
        .await;
        click(&b, "form[action='/admin/api-tokens'] button[type=submit]").await;
        let token = text_of(&b, "#api-token").await;
        assert!(token.starts_with("mk_"), "{token}");
        check_page(&b, "admin-api-token-created").await;
        b.goto(&format!("{base}/admin/api-tokens")).await.unwrap();
        find(&b, "table.tokens").await;
        check_page(&b, "admin-api-tokens").await;
        click(&b, "table.tokens a[href$='/revoke']").await;
        find(&b, "main form button.danger").await;
        check_page(&b, "admin-api-token-revoke").await;
        b.goto(&format!("{base}/admin")).await.unwrap();
        let invited = "new.person.with.a.rather.long.name@department.example.org";
        type_into(&b, "#invite-email", invited).await;
        click(&b, "form[action='/admin/invitations'] button[type=submit]").await;
        let link = text_of(&b, "#invitation-link").await;
        check_page(&b, "admin-invitation").await;
        let path = &link[link.find("/invite/").expect("an invitation link")..];
        b.goto(&format!("{base}{path}")).await.unwrap();
        find(&b, "input[name=confirm]").await;
        check_page(&b, "invitation").await;
    })
    .await;
    drop(app);
}

/// For the activity pages: IMAP logins of alice over two days (an IPv6 address among the
/// failing ones, for wrapping), and two bulk revocation jobs, one done and one whose process
/// was lost. Returns the jobs' ids.
async fn activity_and_jobs(app: &TestApp, alice: i64) -> (i64, i64) {
    let now = app.clock_now();
    for (ago, ip, ok) in [
        (3_600, "192.0.2.10", true),
        (7_200, "2001:db8:ffff:ffff:ffff:ffff:ffff:1234", false),
        (30 * 3_600, "198.51.100.200", false),
        (30 * 3_600, "192.0.2.10", true),
    ] {
        sqlx::query(
            "INSERT INTO imap_logins (at, user_id, username, ip, protocol, succeeded) \
             VALUES ($1, $2, $3, $4, 'imap', $5)",
        )
        .bind(now - ago)
        .bind(alice)
        .bind(ALICE)
        .bind(ip)
        .bind(ok)
        .execute(&app.db.pool)
        .await
        .unwrap();
    }
    let job = |state: &'static str, updated_at: i64| {
        sqlx::query_scalar::<_, i64>(
            "INSERT INTO bulk_jobs (filter, reason, state, matched, revoked, accounts, batches, \
                                    started_at, updated_at, finished_at) \
             VALUES ('last used from 203.0.113.0/24, of @a.rather.long.domain.example.org', \
                     'found in a breach dump', $1, 1200, 1200, 37, 3, $2, $2, $2) RETURNING id",
        )
        .bind(state)
        .bind(updated_at)
        .fetch_one(&app.db.pool)
    };
    let done = job("done", now).await.unwrap();
    let lost = job("interrupted", now - 600).await.unwrap();
    (done, lost)
}
