//! The login history and what admins read from it: an account's recent IMAP logins and web
//! sign-ins on its page, and Admin → Activity (logins per UTC hour as an SVG chart with a
//! table of the same numbers, the addresses failing most), on both backends.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::json;

use crate::both_backends;
use mailkeys::web::chart::hour_label;
use mailkeys_test_support::prelude::*;

const SECRET: &str = "activity-test-secret-0123456789abcdef";

async fn app_with_policy(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| {
        s.policy_listen = Some("127.0.0.1:0".parse().unwrap());
        s.policy_secret = Some(SecretString::from(SECRET));
    })
    .await
}

/// `(user_id, username, credential_id, ip, protocol, succeeded)` of `imap_logins`.
type LoginRow = (Option<i64>, String, Option<i64>, String, String, i64);

/// Sends a login report as Dovecot does after authentication.
async fn report(app: &TestApp, body: serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!(
            "http://{}/dovecot/auth-policy?command=report",
            app.policy_addr.unwrap()
        ))
        .header("X-Mailkeys-Policy-Secret", SECRET)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

async fn reports_from_dovecot_land_in_the_login_history_and_on_the_users_page(backend: Backend) {
    let (app, alice) = app_with_policy(backend).await.and_alice().await;
    let (_, phone) = app.new_app_password(&alice, "Phone").await;
    let ok = |remote: &str, credential: String| json!({"user": ALICE, "remote": remote, "protocol": "imap", "credential_id": credential, "success": true});
    report(&app, ok("192.0.2.7", phone.to_string())).await;
    report(&app, ok("192.0.2.8", String::new())).await;
    report(
        &app,
        json!({"user": ALICE, "remote": "198.51.100.66", "protocol": "pop3", "success": false}),
    )
    .await;
    report(
        &app,
        json!({"user": "nobody@example.org", "remote": "198.51.100.66", "protocol": "imap", "success": false}),
    )
    .await;
    // Another account's id is not taken for alice's.
    report(&app, ok("192.0.2.9", "999999".into())).await;
    let alice_id = app.user_id(ALICE).await;
    let rows: Vec<LoginRow> = sqlx::query_as(
        "SELECT user_id, username, credential_id, ip, protocol, \
                CASE WHEN succeeded THEN 1 ELSE 0 END FROM imap_logins ORDER BY id",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    let now = app.clock_now();
    let at: Vec<i64> = sqlx::query_scalar("SELECT at FROM imap_logins")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert!(at.iter().all(|t| *t == now), "the injected clock's time");
    let a = Some(alice_id);
    assert_eq!(
        rows,
        vec![
            (
                a,
                ALICE.into(),
                Some(phone),
                "192.0.2.7".into(),
                "imap".into(),
                1
            ),
            (a, ALICE.into(), None, "192.0.2.8".into(), "imap".into(), 1),
            (
                a,
                ALICE.into(),
                None,
                "198.51.100.66".into(),
                "pop3".into(),
                0
            ),
            (
                None,
                "nobody@example.org".into(),
                None,
                "198.51.100.66".into(),
                "imap".into(),
                0
            ),
            (a, ALICE.into(), None, "192.0.2.9".into(), "imap".into(), 1),
        ]
    );
    // The existing records still happen: the last use, and the failure count.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM app_passwords WHERE last_used_ip = '192.0.2.7'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM imap_login_failures").await,
        2
    );

    // A failed web sign-in, after alice's own successful one.
    let stranger = app.browser();
    stranger.sign_in(ALICE, "not her password").await;
    let admin = app.signed_in_admin().await;
    let page = admin.get_text(&format!("/admin/users/{alice_id}")).await;
    let section = &page[page.find("id=\"recent-logins\"").expect("the section")..];
    let section = &section[..section.find("</table>").expect("a table")];
    let rows: Vec<&str> = section.split("<tr class=").skip(1).collect();
    assert_eq!(rows.len(), 6, "4 IMAP logins, 2 web sign-ins: {section}");
    let has = |needles: &[&str]| {
        rows.iter()
            .any(|row| needles.iter().all(|n| row.contains(n)))
    };
    assert!(
        has(&["login-ok", "192.0.2.7", ">imap<", "app password “Phone”"]),
        "{section}"
    );
    assert!(
        has(&["login-ok", "192.0.2.8", "main password"]),
        "{section}"
    );
    assert!(
        has(&["login-failed", "198.51.100.66", ">pop3<", "not known"]),
        "{section}"
    );
    assert!(
        has(&["login-failed", "127.0.0.1", ">web<", "web sign-in"]),
        "{section}"
    );
    assert!(has(&["login-ok", ">web<", "web sign-in"]), "{section}");
    assert!(!section.contains("nobody@example.org"));
    // The app password list says what each password may do and from where.
    assert!(page.contains("data-label=\"Scope\"") && page.contains("data-label=\"Networks\""));
    assert!(page.contains(">Anywhere<"), "{page}");
}
both_backends!(reports_from_dovecot_land_in_the_login_history_and_on_the_users_page);

async fn an_account_without_logins_says_so(backend: Backend) {
    let (app, _) = app_with_alice_signed_out(backend).await;
    let admin = app.signed_in_admin().await;
    let id = app.user_id(ALICE).await;
    let page = admin.get_text(&format!("/admin/users/{id}")).await;
    assert!(page.contains("No IMAP logins or web sign-ins recorded yet."));
}
both_backends!(an_account_without_logins_says_so);

/// Adds `n` IMAP logins at `at` from `ip`.
async fn seed(app: &TestApp, at: i64, ip: &str, succeeded: bool, n: usize) {
    for _ in 0..n {
        sqlx::query(
            "INSERT INTO imap_logins (at, username, ip, protocol, succeeded) \
             VALUES ($1, 'someone@example.org', $2, 'imap', $3)",
        )
        .bind(at)
        .bind(ip)
        .bind(succeeded)
        .execute(&app.db.pool)
        .await
        .unwrap();
    }
}

/// The per-hour table: hour label → (successes, failures).
fn table(page: &str) -> BTreeMap<String, (i64, i64)> {
    let re = regex::Regex::new(
        r#"<th scope="row">([^<]+)</th><td data-label="Successful" class="successes">(\d+)</td><td data-label="Failed" class="failures">(\d+)</td>"#,
    )
    .unwrap();
    re.captures_iter(page)
        .map(|c| {
            (
                c[1].to_owned(),
                (c[2].parse().unwrap(), c[3].parse().unwrap()),
            )
        })
        .collect()
}

/// The inline `<svg>`, parsed as XML: its title, its description, its two lines' points.
fn chart(page: &str) -> (String, String, Vec<String>) {
    let start = page.find("<svg").expect("an inline svg");
    let end = page[start..].find("</svg>").expect("its end") + start + "</svg>".len();
    let doc = roxmltree::Document::parse(&page[start..end]).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.attribute("role"), Some("img"));
    let text = |name: &str| {
        root.descendants()
            .find(|n| n.has_tag_name(name))
            .and_then(|n| n.text())
            .unwrap_or_default()
            .to_owned()
    };
    let lines = root
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .map(|n| n.attribute("points").unwrap_or_default().to_owned())
        .collect();
    (text("title"), text("desc"), lines)
}

async fn activity_counts_per_hour_match_the_logins_and_sign_ins(backend: Backend) {
    let app = app_with_policy(backend).await;
    let now = app.clock_now();
    let hour = now / 3600;
    // Five hours ago: 3 successes and 2 failures from 203.0.113.50; yesterday: 1 success;
    // five days ago (outside the default 3 days): 4 failures from 198.51.100.4.
    seed(&app, (hour - 5) * 3600 + 10, "192.0.2.1", true, 3).await;
    seed(&app, (hour - 5) * 3600 + 3599, "203.0.113.50", false, 2).await;
    seed(&app, (hour - 24) * 3600, "192.0.2.1", true, 1).await;
    seed(&app, (hour - 5 * 24) * 3600, "198.51.100.4", false, 4).await;
    // A login reported by Dovecot now, and web sign-ins now: one failed, the admin's own.
    report(
        &app,
        json!({"user": "someone@example.org", "remote": "192.0.2.3", "protocol": "imap", "success": true}),
    )
    .await;
    app.add_user(ALICE, PASSWORD, false).await;
    app.browser().sign_in(ALICE, "wrong").await;
    let admin = app.signed_in_admin().await;

    let page = admin.get_text("/admin/activity").await;
    assert!(page.contains("Hours are in UTC"));
    let expected: BTreeMap<String, (i64, i64)> = [
        (hour_label(hour - 24), (1, 0)),
        (hour_label(hour - 5), (3, 2)),
        (hour_label(hour), (2, 1)),
    ]
    .into_iter()
    .collect();
    assert_eq!(table(&page), expected, "{page}");
    let (title, desc, lines) = chart(&page);
    assert_eq!(title, "Logins per hour, last 3 days, UTC");
    assert!(
        desc.contains("sign-ins: 6 in all, at most 3 in the hour from"),
        "{desc}"
    );
    assert!(
        desc.contains("Failed: 3 in all, at most 2 in the hour from"),
        "{desc}"
    );
    assert_eq!(lines.len(), 2);
    assert!(
        lines.iter().all(|l| l.split(' ').count() == 72),
        "a point per hour of 3 days"
    );
    assert!(page.contains(
        "In all: 5 successful and 2 failed IMAP logins, 1 successful and 1 failed web sign-ins."
    ));
    // The failing addresses: 203.0.113.50 first with 2, then this client's failed sign-in.
    let failing = &page[page.find("id=\"failing\"").unwrap()..];
    let first = failing
        .find("<code>203.0.113.50</code>")
        .expect("the top address");
    assert!(failing[first..].contains("<td data-label=\"Failures\">2</td>"));
    assert!(failing.contains("<code>127.0.0.1</code>"));
    assert!(!failing.contains("198.51.100.4"), "older than 3 days");

    // Seven days reach the older failures, both in the table and the chart.
    let week = admin.get_text("/admin/activity?days=7").await;
    let hours = table(&week);
    assert_eq!(hours.get(&hour_label(hour - 5 * 24)), Some(&(0, 4)));
    assert_eq!(hours.len(), 4);
    let (title, desc, lines) = chart(&week);
    assert_eq!(title, "Logins per hour, last 7 days, UTC");
    assert!(
        desc.contains("Failed: 7 in all, at most 4 in the hour"),
        "{desc}"
    );
    assert!(lines.iter().all(|l| l.split(' ').count() == 7 * 24));
    assert!(week.contains("<code>198.51.100.4</code>"));

    for days in ["1", "14"] {
        let page = admin.get(&format!("/admin/activity?days={days}")).await;
        assert_eq!(page.status(), StatusCode::OK, "days={days}");
    }
    for wrong in ["0", "15", "x"] {
        let refused = admin.get(&format!("/admin/activity?days={wrong}")).await;
        assert_eq!(
            refused.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{wrong}"
        );
        let text = refused.text().await.unwrap();
        assert!(
            text.contains("choose a whole number from 1 to 14"),
            "{text}"
        );
    }
    let alice = app.browser();
    alice.sign_in(ALICE, PASSWORD).await;
    assert_eq!(
        alice.get_status("/admin/activity").await,
        StatusCode::NOT_FOUND
    );
    assert!(admin
        .get_text("/admin")
        .await
        .contains("href=\"/admin/activity\""));
}
both_backends!(activity_counts_per_hour_match_the_logins_and_sign_ins);

async fn the_login_history_keeps_30_days(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = app.clock_now();
    seed(&app, now - 31 * 86_400, "192.0.2.1", true, 3).await;
    seed(&app, now - 29 * 86_400, "192.0.2.1", true, 2).await;
    // (The start-up cleanup may have run first: it does the same.)
    let deleted = mailkeys::services::activity::prune_history(&app.state)
        .await
        .unwrap();
    assert!(deleted <= 3);
    let older = format!(
        "SELECT COUNT(*) FROM imap_logins WHERE at < {}",
        now - 30 * 86_400
    );
    assert_eq!(app.count(&older).await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM imap_logins").await, 2);

    // The daily maintenance does it too, from start-up on.
    seed(&app, now - 40 * 86_400, "192.0.2.1", false, 1).await;
    let _second = spawn_app_on(
        tempfile::tempdir().unwrap(),
        app.database_url.clone(),
        |_| {},
    )
    .await;
    for _ in 0..100 {
        if app.count(&older).await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.count(&older).await,
        0,
        "pruned by the second process's start-up"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM imap_logins").await, 2);
}
both_backends!(the_login_history_keeps_30_days);
