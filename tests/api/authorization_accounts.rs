//! The authorization matrix on one account's things (see authorization.rs for the whole
//! table): only a superadmin acts on another admin's account, and a user reaches no other
//! account's app password.

use reqwest::{Method, StatusCode};

use crate::authorization::{
    assert_refused_for_standing, fill, let_through, request, requester, routes, Access, Params,
};
use crate::both_backends;
use mailkeys_test_support::prelude::*;

async fn only_the_superadmin_acts_on_another_admins_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let root = requester(&app, "superadmin", ROOT, true).await;
    let admin = requester(&app, "admin", "admin@example.org", true).await;
    let peer = app.signed_in_as("peer-admin@example.org", true).await;
    let (_, peer_password) = app.new_app_password(&peer, "peer's").await;
    let peer_id = app.user_id("peer-admin@example.org").await;
    let on_peer = |own_password| Params {
        own_password,
        account: peer_id,
        account_password: peer_password,
    };
    let acting_on_one_account =
        |access: Access| matches!(access, Access::AdminOnAccount | Access::Superadmin);

    let mut refused = 0;
    for (pattern, method, access) in routes() {
        if !acting_on_one_account(access) || method != Method::POST {
            continue;
        }
        let path = fill(pattern, &on_peer(admin.own_password));
        let what = format!("admin on another admin: POST {path}");
        let response = request(&admin.browser, &method, &path, &admin.csrf).await;
        assert_refused_for_standing(response, &what).await;
        refused += 1;
    }
    assert!(refused >= 7, "{refused} account actions refused");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM app_passwords WHERE user_id = {peer_id} AND revoked_at IS NULL"
        ))
        .await,
        1,
        "the other admin's app password still works"
    );
    assert_eq!(
        peer.get_status("/").await,
        StatusCode::OK,
        "the other admin is still signed in"
    );

    let mut problems = Vec::new();
    for (pattern, method, access) in routes() {
        if !acting_on_one_account(access) || method != Method::POST {
            continue;
        }
        let path = fill(pattern, &on_peer(root.own_password));
        let what = format!("superadmin on an admin: POST {path}");
        let response = request(&root.browser, &method, &path, &root.csrf).await;
        let_through(&mut problems, pattern, response, &what).await;
    }
    assert!(problems.is_empty(), "refused:\n{}", problems.join("\n"));
}
both_backends!(only_the_superadmin_acts_on_another_admins_account);

async fn a_user_reaches_no_other_accounts_app_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = requester(&app, "user", ALICE, false).await;
    let bob = app.signed_in("bob@example.org").await;
    let (_, bobs) = app.new_app_password(&bob, "bob's phone").await;
    let on_bob = Params {
        own_password: bobs,
        account: 0,
        account_password: 0,
    };
    let mut tried = 0;
    for (pattern, method, _) in routes() {
        if !pattern.starts_with("/app-passwords/{id}") {
            continue;
        }
        let path = fill(pattern, &on_bob);
        let response = request(&user.browser, &method, &path, &user.csrf).await;
        assert_eq!(
            response.status(),
            StatusCode::NOT_FOUND,
            "alice: {method} {path} (bob's)"
        );
        tried += 1;
    }
    assert!(tried >= 8, "{tried} requests on bob's app password");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM app_passwords WHERE id = {bobs} \
             AND revoked_at IS NULL AND name = 'bob''s phone'"
        ))
        .await,
        1,
        "bob's app password is unchanged"
    );
}
both_backends!(a_user_reaches_no_other_accounts_app_password);
