//! Admin → Accounts at size (search, filters, pages, sort by activity) and admin standing
//! (admins act on users; a superadmin also on admins, and alone changes roles; the last
//! superadmin stays).

use std::collections::HashSet;

use reqwest::StatusCode;

use crate::both_backends;
use crate::cli::mailkeys;
use mailkeys_test_support::prelude::*;

const OPS: &str = "ops@example.org";

/// `count` accounts `user{n:03}@example.org`, inserted directly (one shared hash).
async fn many_accounts(app: &TestApp, count: usize) {
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users LIMIT 1")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    for n in 0..count {
        sqlx::query(
            "INSERT INTO users (email, password_hash, created_at, password_changed_at, last_activity_at) \
             VALUES ($1, $2, 0, 0, $3)",
        )
        .bind(format!("user{n:03}@example.org"))
        .bind(&hash)
        .bind(n as i64)
        .execute(&app.db.pool)
        .await
        .unwrap();
    }
}

fn listed(page: &str) -> Vec<String> {
    regex::Regex::new(r#"<a href="/admin/users/\d+">([^<]+)</a>"#)
        .unwrap()
        .captures_iter(page)
        .map(|c| c[1].to_owned())
        .collect()
}

fn next_link(page: &str) -> Option<String> {
    regex::Regex::new(r#"href="(/admin\?[^"]+)" rel="next""#)
        .unwrap()
        .captures(page)
        .map(|c| href(&c[1]))
}

async fn accounts_are_searched_filtered_and_paged(backend: Backend) {
    let (app, _alice) = app_with_alice(backend).await;
    let root = app.signed_in_as(ROOT, true).await;
    many_accounts(&app, 120).await;

    // Every account once, 50 to a page, in address order.
    let mut seen = Vec::new();
    let mut page = root.get_text("/admin").await;
    loop {
        let names = listed(&page);
        assert!(names.len() <= 50);
        seen.extend(names);
        assert!(seen.len() <= 200, "pages never end");
        match next_link(&page) {
            Some(next) => page = root.get_text(&next).await,
            None => break,
        }
    }
    assert_eq!(seen.len(), 122, "120 + alice + root");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len());

    // A substring, a prefix, and wildcards taken literally.
    let found = listed(&root.get_text("/admin?q=ER07").await);
    assert_eq!(found.len(), 10, "{found:?}");
    assert!(found.iter().all(|e| e.contains("er07")));
    assert_eq!(listed(&root.get_text("/admin?q=alice").await), [ALICE]);
    assert!(listed(&root.get_text("/admin?q=user_0").await).is_empty());
    assert!(root
        .get_text("/admin?q=nobody")
        .await
        .contains("No account matches."));

    assert_eq!(listed(&root.get_text("/admin?filter=admins").await), [ROOT]);
    let alice_id = app.user_id(ALICE).await;
    let page = format!("/admin/users/{alice_id}");
    root.post(
        &page,
        &format!("{page}/flags"),
        &[("flag", "disabled"), ("on", "yes")],
    )
    .await;
    assert_eq!(
        listed(&root.get_text("/admin?filter=disabled").await),
        [ALICE]
    );

    // By activity: root signed in last, so comes first; then user119 (activity 119) down.
    let by_activity = listed(&root.get_text("/admin?sort=activity").await);
    assert_eq!(by_activity[0], ROOT);
    assert_eq!(by_activity.len(), 50);
    let first_page = root.get_text("/admin?sort=activity").await;
    let second = listed(&root.get_text(&next_link(&first_page).unwrap()).await);
    assert!(second.iter().all(|e| !by_activity.contains(e)));
}
both_backends!(accounts_are_searched_filtered_and_paged);

async fn admins_act_on_users_and_only_a_superadmin_on_admins(backend: Backend) {
    let (app, _alice) = app_with_alice(backend).await;
    let root = app.signed_in_as(ROOT, true).await;
    let ops = app.signed_in_as(OPS, true).await;
    let (root_id, ops_id, alice_id) = (
        app.user_id(ROOT).await,
        app.user_id(OPS).await,
        app.user_id(ALICE).await,
    );
    let flag = |b: &Browser, id: i64, flag: &'static str| {
        let b = b.clone();
        async move {
            let page = format!("/admin/users/{id}");
            b.post(
                &page,
                &format!("{page}/flags"),
                &[("flag", flag), ("on", "yes")],
            )
            .await
            .status()
        }
    };
    let role = |b: &Browser, id: i64, role: &'static str| {
        let b = b.clone();
        async move {
            let page = format!("/admin/users/{id}");
            b.post(&page, &format!("{page}/role"), &[("role", role)])
                .await
                .status()
        }
    };

    // ops (admin) acts on alice (user), not on root (superadmin), and changes no role.
    assert_eq!(
        flag(&ops, alice_id, "main_imap_blocked").await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(flag(&ops, root_id, "disabled").await, StatusCode::FORBIDDEN);
    let page = format!("/admin/users/{root_id}");
    let compromise = format!("{page}/compromised");
    let refused = ops
        .post(&compromise, &compromise, &[("reason", "coup")])
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let refused = ops.post(&page, &format!("{page}/end-sessions"), &[]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(role(&ops, alice_id, "admin").await, StatusCode::FORBIDDEN);
    assert!(!ops
        .get_text(&format!("/admin/users/{alice_id}"))
        .await
        .contains("Change role"));
    assert_eq!(
        root.get_status("/admin").await,
        StatusCode::OK,
        "root still signed in"
    );

    // root (superadmin) acts on ops and grants roles; the change is audited.
    assert!(root
        .get_text(&format!("/admin/users/{alice_id}"))
        .await
        .contains("Change role"));
    assert_eq!(role(&root, alice_id, "admin").await, StatusCode::SEE_OTHER);
    app.assert_audited(ALICE, "role_changed").await;
    assert_eq!(
        flag(&root, ops_id, "must_reset").await,
        StatusCode::SEE_OTHER
    );

    // The last superadmin keeps the role, until there is another one.
    assert_eq!(role(&root, root_id, "admin").await, StatusCode::FORBIDDEN);
    assert_eq!(
        role(&root, alice_id, "superadmin").await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(role(&root, root_id, "admin").await, StatusCode::SEE_OTHER);
    assert_ne!(
        root.get_status("/admin").await,
        StatusCode::OK,
        "a demotion ends sessions"
    );
}
both_backends!(admins_act_on_users_and_only_a_superadmin_on_admins);

/// `mailkeys user add --admin` on an installation without a superadmin makes one, and the
/// operator sets roles from the command line, as the README says.
async fn the_operator_sets_roles_from_the_command_line(backend: Backend) {
    let app = spawn_app(backend).await;
    let add = |email: &'static str| {
        mailkeys(
            &app,
            &["user", "add", email, "--admin", "--password-stdin"],
            &format!("{PASSWORD}\n"),
        )
    };
    assert!(add("first@example.org").0);
    assert!(add("second@example.org").0);
    let roles: Vec<(String, i64)> = sqlx::query_as(
        "SELECT email, CASE WHEN is_superadmin THEN 1 ELSE 0 END FROM users ORDER BY id",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        roles,
        [
            ("first@example.org".into(), 1),
            ("second@example.org".into(), 0)
        ]
    );
    let (ok, out, err) = mailkeys(
        &app,
        &["user", "role", "second@example.org", "superadmin"],
        "",
    );
    assert!(ok && out.contains("is now superadmin"), "{out}{err}");
    let (ok, out, err) = mailkeys(&app, &["user", "role", "first@example.org", "user"], "");
    assert!(ok, "{out}{err}");
    let (ok, _, err) = mailkeys(&app, &["user", "role", "second@example.org", "admin"], "");
    assert!(!ok && err.contains("last superadmin"), "{err}");
    app.assert_audited("first@example.org", "role_changed")
        .await;
}
both_backends!(the_operator_sets_roles_from_the_command_line);

/// Two superadmins each dropping their own role at the same moment: one must stay (the
/// "last superadmin" check and the change are one step, concurrency included).
async fn two_simultaneous_demotions_leave_a_superadmin(backend: Backend) {
    let app = spawn_app(backend).await;
    let root = app.signed_in_admin().await;
    let other = app.signed_in_as("second@example.org", true).await;
    let second_id = app.user_id("second@example.org").await;
    let page = format!("/admin/users/{second_id}");
    let made = root
        .post(&page, &format!("{page}/role"), &[("role", "superadmin")])
        .await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    let root_id = app.user_id(ROOT).await;
    for _ in 0..5 {
        let demote = |b: &Browser, id: i64| {
            let b = b.clone();
            async move {
                let page = format!("/admin/users/{id}");
                b.post(&page, &format!("{page}/role"), &[("role", "admin")])
                    .await
                    .status()
            }
        };
        let _ = tokio::join!(demote(&root, root_id), demote(&other, second_id));
        let left = app
            .count("SELECT COUNT(*) FROM users WHERE is_superadmin")
            .await;
        assert!(left >= 1, "no superadmin left");
        if left == 1 {
            return;
        }
    }
    panic!("neither demotion went through");
}
both_backends!(two_simultaneous_demotions_leave_a_superadmin);
