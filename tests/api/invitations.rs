//! Accounts by invitation: an admin makes a link, shown once; the invited person opens it,
//! chooses a password and is signed in; the link works once and expires.

use reqwest::StatusCode;

use crate::both_backends;
use crate::cli::mailkeys;
use mailkeys_test_support::prelude::*;

const NEW: &str = "carol@example.org";
const NEW_PASSWORD_TEXT: &str = "violet harbour lantern 42";

fn link_in(page: &str) -> String {
    regex::Regex::new(r#"<code id="invitation-link">(http[^<]+)</code>"#)
        .unwrap()
        .captures(page)
        .expect("the link is shown")[1]
        .to_owned()
}

/// The path of an invitation link (`/invite/TOKEN`).
fn path_of(link: &str) -> String {
    link[link.find("/invite/").expect("an invitation path")..].to_owned()
}

async fn invite(admin: &Browser, email: &str, as_admin: bool) -> reqwest::Response {
    let mut form = vec![("email", email)];
    if as_admin {
        form.push(("admin", "yes"));
    }
    admin.post("/admin", "/admin/invitations", &form).await
}

async fn an_invited_person_chooses_a_password_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.signed_in_admin().await;
    let response = invite(&admin, NEW, false).await;
    assert_eq!(response.status(), StatusCode::OK);
    let path = path_of(&link_in(&response.text().await.unwrap()));
    app.assert_audited_anywhere("invitation_created").await;

    let carol = app.browser();
    let page = carol.get_text(&path).await;
    assert!(page.contains(NEW), "{page}");
    let differ = carol
        .post(
            &path,
            &path,
            &[("password", NEW_PASSWORD_TEXT), ("confirm", "other")],
        )
        .await;
    assert_eq!(differ.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let weak = carol
        .post(
            &path,
            &path,
            &[
                ("password", "carol2024carol"),
                ("confirm", "carol2024carol"),
            ],
        )
        .await;
    assert_eq!(
        weak.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "the password rules apply"
    );
    let made = carol
        .post(
            &path,
            &path,
            &[
                ("password", NEW_PASSWORD_TEXT),
                ("confirm", NEW_PASSWORD_TEXT),
            ],
        )
        .await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    carol.assert_status("/", StatusCode::OK, "signed in").await;
    app.assert_audited(NEW, "user_created").await;
    assert_eq!(
        app.browser().sign_in_status(NEW, NEW_PASSWORD_TEXT).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.browser().get_status(&path).await,
        StatusCode::GONE,
        "used up"
    );

    let again = invite(&admin, NEW, false).await;
    assert_eq!(again.status(), StatusCode::CONFLICT, "the account exists");
}
both_backends!(an_invited_person_chooses_a_password_once);

async fn invitations_expire_and_only_a_superadmin_invites_admins(backend: Backend) {
    let app = spawn_app(backend).await;
    let root = app.signed_in_admin().await;
    let ops = app.signed_in_as("ops@example.org", true).await;
    let alice = app.signed_in(ALICE).await;
    let refused = alice
        .post("/", "/admin/invitations", &[("email", NEW)])
        .await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND, "not for users");
    assert_eq!(
        invite(&ops, NEW, true).await.status(),
        StatusCode::FORBIDDEN
    );

    let response = invite(&root, NEW, true).await;
    let path = path_of(&link_in(&response.text().await.unwrap()));
    // A new invitation for the address replaces the earlier one.
    let newer = invite(&ops, NEW, false).await;
    let newer_path = path_of(&link_in(&newer.text().await.unwrap()));
    assert_eq!(app.browser().get_status(&path).await, StatusCode::GONE);
    app.clock.advance(7 * 24 * 60 * 60 + 1);
    assert_eq!(
        app.browser().get_status(&newer_path).await,
        StatusCode::GONE,
        "expired"
    );
}
both_backends!(invitations_expire_and_only_a_superadmin_invites_admins);

/// `mailkeys user invite EMAIL --admin`, as the README gives it.
async fn the_operator_invites_from_the_command_line(backend: Backend) {
    let app = spawn_app(backend).await;
    let (ok, out, err) = mailkeys(&app, &["user", "invite", NEW, "--admin"], "");
    assert!(ok, "{out}{err}");
    let path = path_of(
        out.split_whitespace()
            .find(|w| w.contains("/invite/"))
            .unwrap(),
    );
    let carol = app.browser();
    carol.get_text(&path).await;
    let made = carol
        .post(
            &path,
            &path,
            &[
                ("password", NEW_PASSWORD_TEXT),
                ("confirm", NEW_PASSWORD_TEXT),
            ],
        )
        .await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    carol
        .assert_status("/admin", StatusCode::OK, "an admin")
        .await;
}
both_backends!(the_operator_invites_from_the_command_line);
