//! The second factor of web sign-in, over HTTP on both backends: TOTP enrolment and its
//! window, replay refused, recovery codes, and the pending session that reaches nothing
//! else. The throttle, re-authentication, the admin reset and `require_second_factor` are
//! in second_factor_guards.rs.
//!
//! Codes are computed here with `totp-rs` from the key the enrolment page shows, at the
//! app's injected clock.

use regex::Regex;
use reqwest::{Method, StatusCode};

use crate::both_backends;
use mailkeys_test_support::prelude::*;

pub(crate) const PAGE: &str = "/account/second-factor";
pub(crate) const STEP: &str = "/sign-in/second-factor";

/// The RFC 6238 code of `secret` (base32) at Unix time `at`.
pub fn code_at(secret: &str, at: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .unwrap();
    let totp = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes).unwrap();
    totp.generate(u64::try_from(at).unwrap())
}

/// What enrolment showed: the key and the recovery codes.
pub struct Enrolled {
    pub secret: String,
    pub codes: Vec<String>,
}

/// An app that lets one address sign in often (the minute limit is not under test).
pub(crate) async fn app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| s.sign_in_per_ip_per_minute = 10_000).await
}

pub(crate) fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// Enrols an authenticator app through the account page, then moves the clock one step on
/// (the confirming code's step is used up).
pub async fn enrol_totp(app: &TestApp, browser: &Browser) -> Enrolled {
    let started = browser.post(PAGE, "/account/second-factor/totp", &[]).await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let page = browser.get_text(PAGE).await;
    assert!(page.contains("<svg"), "the QR code is inline SVG:\n{page}");
    let secret = Regex::new(r#"<code id="totp-secret">([A-Z2-7]+)</code>"#)
        .unwrap()
        .captures(&page)
        .expect("the key is shown as text")[1]
        .to_owned();
    let code = code_at(&secret, app.clock_now());
    let confirmed = browser
        .post(
            PAGE,
            "/account/second-factor/totp/confirm",
            &[("code", &code)],
        )
        .await;
    assert_eq!(confirmed.status(), StatusCode::CREATED);
    let codes = recovery_codes_in(&confirmed.text().await.unwrap());
    assert_eq!(codes.len(), 10);
    app.clock.advance(30);
    Enrolled { secret, codes }
}

pub fn recovery_codes_in(page: &str) -> Vec<String> {
    Regex::new(r"<li><code>([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})</code></li>")
        .unwrap()
        .captures_iter(page)
        .map(|c| c[1].to_owned())
        .collect()
}

/// Signs in with the password, which must lead to the second-factor step.
pub(crate) async fn sign_in_pending(browser: &Browser) {
    let response = browser.sign_in(ALICE, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), STEP);
}

pub(crate) async fn give_code(browser: &Browser, code: &str) -> StatusCode {
    browser.post(STEP, STEP, &[("code", code)]).await.status()
}

async fn totp_enrolment_needs_a_confirmed_code_then_sign_in_asks_for_one(backend: Backend) {
    let app = app(backend).await;
    let (app, alice) = app.and_alice().await;
    let started = alice.post(PAGE, "/account/second-factor/totp", &[]).await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let wrong = alice
        .post(
            PAGE,
            "/account/second-factor/totp/confirm",
            &[("code", "000000")],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let other = app.browser();
    let before = other.sign_in(ALICE, PASSWORD).await;
    assert_eq!(
        location(&before),
        "/",
        "an unconfirmed app is no second factor yet"
    );
    enrol_totp(&app, &alice).await;
    app.assert_audited(ALICE, "second_factor_added").await;
    let page = alice.get_text(PAGE).await;
    assert!(page.contains("Unused recovery codes: <strong id=\"recovery-left\">10</strong>"));

    let browser = app.browser();
    sign_in_pending(&browser).await;
    let dashboard = browser.get("/").await;
    assert_eq!(dashboard.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&dashboard),
        "/sign-in",
        "the pending session is not signed in"
    );
}
both_backends!(totp_enrolment_needs_a_confirmed_code_then_sign_in_asks_for_one);

async fn codes_of_the_neighbouring_steps_are_accepted_once_and_no_further(backend: Backend) {
    let (app, alice) = app(backend).await.and_alice().await;
    let enrolled = enrol_totp(&app, &alice).await;
    // Far enough from the enrolment's step that the previous step is still unused.
    app.clock.advance(60);
    let browser = app.browser();
    sign_in_pending(&browser).await;
    let now = app.clock_now();
    for far in [now - 60, now + 60] {
        let code = code_at(&enrolled.secret, far);
        if code != code_at(&enrolled.secret, now)
            && code != code_at(&enrolled.secret, now - 30)
            && code != code_at(&enrolled.secret, now + 30)
        {
            assert_eq!(
                give_code(&browser, &code).await,
                StatusCode::UNAUTHORIZED,
                "two steps away"
            );
        }
    }
    let previous = code_at(&enrolled.secret, now - 30);
    assert_eq!(give_code(&browser, &previous).await, StatusCode::SEE_OTHER);
    assert_eq!(browser.get_status("/").await, StatusCode::OK);

    // The same code again, in another sign-in: a replay.
    let again = app.browser();
    sign_in_pending(&again).await;
    assert_eq!(give_code(&again, &previous).await, StatusCode::UNAUTHORIZED);
    let next = code_at(&enrolled.secret, now + 30);
    assert_eq!(give_code(&again, &next).await, StatusCode::SEE_OTHER);
    // Once a later step is used, the current step's code is old: refused too.
    let third = app.browser();
    sign_in_pending(&third).await;
    let current = code_at(&enrolled.secret, now);
    assert_eq!(give_code(&third, &current).await, StatusCode::UNAUTHORIZED);
    app.assert_audited(ALICE, "second_factor_failed").await;
}
both_backends!(codes_of_the_neighbouring_steps_are_accepted_once_and_no_further);

async fn each_recovery_code_signs_in_once_and_new_ones_replace_them(backend: Backend) {
    let (app, alice) = app(backend).await.and_alice().await;
    let enrolled = enrol_totp(&app, &alice).await;
    let first = app.browser();
    sign_in_pending(&first).await;
    let code = enrolled.codes[0].to_uppercase();
    assert_eq!(give_code(&first, &code).await, StatusCode::SEE_OTHER);
    let page = first.get_text(PAGE).await;
    assert!(
        page.contains("<strong id=\"recovery-left\">9</strong>"),
        "{page}"
    );

    let second = app.browser();
    sign_in_pending(&second).await;
    assert_eq!(
        give_code(&second, &enrolled.codes[0]).await,
        StatusCode::UNAUTHORIZED,
        "a used code"
    );
    // New codes (the session gave its factor just now: no re-authentication asked).
    let fresh = first
        .post(PAGE, "/account/second-factor/recovery-codes", &[])
        .await;
    assert_eq!(fresh.status(), StatusCode::CREATED);
    let new_codes = recovery_codes_in(&fresh.text().await.unwrap());
    assert_eq!(new_codes.len(), 10);
    assert_eq!(
        give_code(&second, &enrolled.codes[1]).await,
        StatusCode::UNAUTHORIZED,
        "an old set's code"
    );
    assert_eq!(
        give_code(&second, &new_codes[3]).await,
        StatusCode::SEE_OTHER
    );
    app.assert_audited(ALICE, "recovery_codes_generated").await;
    let stored: i64 = app
        .count("SELECT COUNT(*) FROM recovery_codes WHERE code_hash NOT LIKE 'recovery:%'")
        .await;
    assert_eq!(stored, 0, "only keyed hashes are stored");
}
both_backends!(each_recovery_code_signs_in_once_and_new_ones_replace_them);

/// Routes a pending session may use: the step itself and what a visitor may use.
/// Routes that answer anyone: the sign-in steps, health, setup links, and the servers-only
/// mail autoconfig files (no account data).
const OPEN_TO_PENDING: [&str; 11] = [
    "/sign-in/second-factor",
    "/sign-in/second-factor/passkey/options",
    "/sign-in/second-factor/passkey",
    "/sign-in",
    "/healthz",
    "/readyz",
    "/setup/{token}",
    "/invite/{token}",
    "/.well-known/autoconfig/mail/config-v1.1.xml",
    "/mail/config-v1.1.xml",
    // The JSON API's OpenAPI document is public; the rest of /api/v1 wants a bearer token.
    "/api/v1/openapi.json",
];

async fn a_pending_session_reaches_no_route_but_the_second_factor_step(backend: Backend) {
    let app = app(backend).await;
    app.add_user("root@example.org", PASSWORD, true).await;
    let admin = app.browser();
    admin.sign_in("root@example.org", PASSWORD).await;
    enrol_totp(&app, &admin).await;
    let pending = app.browser();
    let response = pending.sign_in("root@example.org", PASSWORD).await;
    assert_eq!(location(&response), STEP);
    let csrf = pending.csrf(STEP).await;
    let mut checked = 0;
    let parameter = Regex::new(r"\{[a-z_]+\}").unwrap();
    for (pattern, methods) in mailkeys::web::routes::table() {
        if OPEN_TO_PENDING.contains(&pattern) {
            continue;
        }
        let path = parameter.replace_all(pattern, "1");
        for method in methods {
            let method: Method = method.as_str().parse().unwrap();
            let response = pending
                .client
                .request(method.clone(), app.url(&path))
                .header("x-csrf-token", &csrf)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "csrf={csrf}&name=x&code=000000&reason=x&flag=disabled&on=yes"
                ))
                .send()
                .await
                .unwrap();
            let status = response.status();
            let refused = status == StatusCode::UNAUTHORIZED
                || (status == StatusCode::SEE_OTHER && location(&response).starts_with("/sign-in"));
            assert!(
                refused,
                "{method} {path} answered a pending session with {status}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked} routes checked");
    assert_eq!(
        pending.get_status(STEP).await,
        StatusCode::OK,
        "still pending"
    );
    assert_eq!(app.live_app_passwords().await, 0);
}
both_backends!(a_pending_session_reaches_no_route_but_the_second_factor_step);

async fn a_pending_session_ends_after_five_minutes(backend: Backend) {
    let (app, alice) = app(backend).await.and_alice().await;
    let enrolled = enrol_totp(&app, &alice).await;
    let browser = app.browser();
    sign_in_pending(&browser).await;
    let csrf = browser.csrf(STEP).await;
    app.clock
        .advance(mailkeys::domain::second_factor::PENDING_SECS + 1);
    let code = code_at(&enrolled.secret, app.clock_now());
    let late = browser
        .post_raw(STEP, &[("csrf", &csrf), ("code", &code)])
        .await;
    // Refused, or sent to sign in again ("your session ended"), never signed in.
    assert!(
        late.status() != StatusCode::SEE_OTHER || location(&late).starts_with("/sign-in?"),
        "not signed in: {}",
        location(&late)
    );
    let page = browser.get(STEP).await;
    assert!(
        location(&page).starts_with("/sign-in"),
        "{}",
        location(&page)
    );
    browser
        .assert_status("/", StatusCode::SEE_OTHER, "not signed in")
        .await;
}
both_backends!(a_pending_session_ends_after_five_minutes);
