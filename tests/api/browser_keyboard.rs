//! By keyboard alone, in real Chromium: the skip link, then create, copy, test and revoke
//! with Tab and Enter (WebDriver key actions), the focus ring on every stop and the focus
//! landing on what happened after each action.

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::Client;
use serde_json::json;

use crate::browser::{find, in_browser, js, page_summary, path_of, sign_in, wait_until, Cdp};
use crate::browser_layout::focused;
use mailkeys_test_support::prelude::*;

/// Presses `key` on whatever has the focus, as a keyboard would.
async fn press(b: &Client, key: Key) {
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key.into() })
        .then(KeyAction::Up { value: key.into() });
    b.perform_actions(keys).await.expect("key pressed");
}

/// Presses Shift+Tab, moving the focus backwards.
async fn press_shift_tab(b: &Client) {
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down {
            value: Key::Shift.into(),
        })
        .then(KeyAction::Down {
            value: Key::Tab.into(),
        })
        .then(KeyAction::Up {
            value: Key::Tab.into(),
        })
        .then(KeyAction::Up {
            value: Key::Shift.into(),
        });
    b.perform_actions(keys).await.expect("keys pressed");
}

/// Presses Tab until the focused element matches `css`; fails after `most` presses.
async fn tab_to(b: &Client, css: &str, most: usize) {
    tab_until(b, css, most, false).await;
}

/// Presses Tab (or Shift+Tab, `backwards`) until the focused element matches `css`.
async fn tab_until(b: &Client, css: &str, most: usize, backwards: bool) {
    let matches = format!(
        "return !!document.activeElement && document.activeElement.matches({})",
        json!(css)
    );
    for _ in 0..most {
        if backwards {
            press_shift_tab(b).await;
        } else {
            press(b, Key::Tab).await;
        }
        if js(b, &matches).await == json!(true) {
            assert_focus_ring(b, css).await;
            return;
        }
    }
    panic!(
        "{most} presses of Tab never reached `{css}`\n{}",
        page_summary(b).await
    );
}

/// The focused element shows the thick focus ring (style.css: 3 px, `:focus-visible`).
async fn assert_focus_ring(b: &Client, what: &str) {
    let ring = js(
        b,
        "const s = getComputedStyle(document.activeElement);
         return s.outlineStyle + ' ' + s.outlineWidth;",
    )
    .await;
    assert_eq!(ring, json!("solid 3px"), "the focus ring on {what}");
}

/// By keyboard only: skip link, create, copy (announced), test (focus on the result),
/// revoke (the link names the row; focus on the notice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_copy_test_and_revoke_by_keyboard_alone() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.mail_servers = vec![nowhere()]).await;
    app.add_user(ALICE, PASSWORD, false).await;
    let base = app.url("");
    in_browser(true, move |b| async move {
        sign_in(&b, &base, ALICE).await;
        b.issue_cmd(Cdp {
            cmd: "Browser.grantPermissions",
            params: json!({ "origin": base,
                "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"] }),
        })
        .await
        .expect("clipboard permission granted through CDP");
        // A fresh load, so that focus starts at the top of the page.
        b.goto(&format!("{base}/")).await.unwrap();
        tab_to(&b, "a.skip", 1).await;
        press(&b, Key::Enter).await;
        wait_until(
            &b,
            "the skip link moved focus to main",
            "return document.activeElement.id === 'main'",
        )
        .await;

        tab_to(&b, "#create input[name=name]", 40).await;
        b.active_element()
            .await
            .unwrap()
            .send_keys("Phone")
            .await
            .unwrap();
        press(&b, Key::Enter).await;
        find(&b, "code#new-password").await;

        tab_to(&b, "button.copy", 40).await;
        press(&b, Key::Enter).await;
        wait_until(
            &b,
            "the copy is announced",
            "const s = document.querySelector('[role=status][aria-live=polite].copy-status');
             return !!s && s.textContent === 'Copied to the clipboard.'",
        )
        .await;

        tab_to(&b, "main form[action='/check'] button[type=submit]", 10).await;
        press(&b, Key::Enter).await;
        find(&b, "#check-result").await;
        wait_until(
            &b,
            "the result has the focus",
            "return document.activeElement.id === 'check-result'",
        )
        .await;

        tab_until(&b, "nav a[href='/']", 20, true).await;
        press(&b, Key::Enter).await;
        find(&b, "table.passwords").await;
        assert_eq!(path_of(&b).await, "/");
        tab_to(&b, "a.danger[href$='/revoke']", 60).await;
        assert_eq!(
            js(&b, "return document.activeElement.textContent").await,
            json!("Revoke Phone…"),
            "the link says which password"
        );
        press(&b, Key::Enter).await;
        tab_to(&b, "input[name=reason]", 40).await;
        b.active_element()
            .await
            .unwrap()
            .send_keys("keyboard test")
            .await
            .unwrap();
        tab_to(&b, "main form button.danger", 3).await;
        press(&b, Key::Enter).await;
        find(&b, "p.notice").await;
        assert_eq!(focused(&b).await, "p#notice.notice", "focus on the notice");
        assert_eq!(
            app.live_app_passwords().await,
            0,
            "revoked by keyboard alone"
        );
    })
    .await;
}
