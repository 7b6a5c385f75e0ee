//! Every route of the web UI and the JSON API in one typed table: the router is built from
//! it, and [`table`] lists it, so the tests that go over every route (CSRF refusal,
//! security headers) cover a route as soon as it is added here. The `/static` files and the
//! 404 fallback are not routes of this table: the router adds them on its own (see
//! [`super::router`]).
//!
//! [`Page`] names the pages handlers redirect to, so that each path is written once.

use axum::http::Method;
use axum::response::Redirect;
use axum::routing::MethodRouter;

use super::{
    account, admin, admin_accounts, admin_activity, admin_api_tokens, admin_attempts, admin_audit,
    admin_bulk, admin_compromise, admin_confirm, admin_dovecot, admin_notices, api, auth, check,
    dashboard, health, invitations, mail_setup, new_password, password_edit, second_factor,
    security, AppState,
};
use crate::domain::UserId;

const DASHBOARD: &str = "/";
const ACCOUNT: &str = "/account";
const SIGN_IN: &str = "/sign-in";
const SECOND_FACTOR: &str = "/sign-in/second-factor";
const SECURITY: &str = "/account/second-factor";
const REAUTH: &str = "/reauth";
const ADMIN: &str = "/admin";
/// An admin's view of one account; `{id}` is the account's [`UserId`].
const ADMIN_USER: &str = "/admin/users/{id}";
/// A bulk revocation's progress and result; `{job}` is its id.
const BULK_JOB: &str = "/admin/bulk-revoke/{job}";

/// A page a handler sends the browser to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    Dashboard,
    Account,
    SignIn,
    /// The second step of signing in, for a session that owes its second factor.
    SecondFactor,
    /// The account's second factors.
    Security,
    /// Asking for the second factor again.
    Reauth,
    /// The admin's accounts page.
    Admin,
    /// An admin's view of this account.
    AdminUser(UserId),
    /// A bulk revocation job's page.
    BulkJob(i64),
}

impl Page {
    pub fn path(self) -> String {
        match self {
            Self::Dashboard => DASHBOARD.to_owned(),
            Self::Account => ACCOUNT.to_owned(),
            Self::SignIn => SIGN_IN.to_owned(),
            Self::SecondFactor => SECOND_FACTOR.to_owned(),
            Self::Security => SECURITY.to_owned(),
            Self::Reauth => REAUTH.to_owned(),
            Self::Admin => ADMIN.to_owned(),
            Self::AdminUser(id) => ADMIN_USER.replace("{id}", &id.to_string()),
            Self::BulkJob(job) => BULK_JOB.replace("{job}", &job.to_string()),
        }
    }

    /// A 303 to this page.
    pub fn redirect(self) -> Redirect {
        Redirect::to(&self.path())
    }
}

/// One path with the methods it answers and their handlers.
struct Route {
    path: &'static str,
    methods: Vec<Method>,
    handlers: MethodRouter<AppState>,
}

/// Methods are added through these so that the list of methods and the handlers cannot
/// disagree: axum does not tell which methods a `MethodRouter` answers.
impl Route {
    fn at(path: &'static str) -> Self {
        Self {
            path,
            methods: Vec::new(),
            handlers: MethodRouter::new(),
        }
    }

    fn get<H, T>(mut self, handler: H) -> Self
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        self.methods.push(Method::GET);
        self.handlers = self.handlers.get(handler);
        self
    }

    fn post<H, T>(mut self, handler: H) -> Self
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        self.methods.push(Method::POST);
        self.handlers = self.handlers.post(handler);
        self
    }
}

fn routes() -> Vec<Route> {
    vec![
        Route::at(DASHBOARD).get(dashboard::index),
        Route::at("/app-passwords").post(new_password::create),
        Route::at("/app-passwords/{id}/new").get(new_password::show),
        Route::at("/app-passwords/{id}/profile").post(new_password::profile),
        Route::at("/app-passwords/{id}/revoke")
            .get(dashboard::confirm_revoke)
            .post(dashboard::revoke),
        Route::at("/app-passwords/{id}/edit")
            .get(password_edit::edit_page)
            .post(password_edit::edit),
        Route::at("/app-passwords/{id}/rename")
            .get(password_edit::rename_page)
            .post(password_edit::rename),
        Route::at("/app-passwords/revoke-all")
            .get(dashboard::confirm_revoke_all)
            .post(dashboard::revoke_all),
        Route::at(ACCOUNT).get(account::index),
        Route::at("/account/password").post(account::change_password),
        Route::at("/account/imap").post(account::set_main_imap),
        Route::at("/check").get(check::page).post(check::run_form),
        Route::at("/check/stream").post(check::run_stream),
        Route::at("/api/check").post(check::run_json),
        Route::at("/api/me").get(check::me),
        Route::at(ADMIN).get(admin_accounts::users),
        Route::at("/admin/dovecot").get(admin_dovecot::show),
        Route::at("/admin/failed-sign-ins").get(admin_attempts::show),
        Route::at("/admin/activity").get(admin_activity::show),
        Route::at("/admin/audit").get(admin_audit::show),
        Route::at("/admin/invitations").post(invitations::invite),
        Route::at("/invite/{token}")
            .get(invitations::accept_page)
            .post(invitations::accept),
        Route::at("/admin/bulk-revoke")
            .get(admin_bulk::show)
            .post(admin_bulk::run),
        Route::at(BULK_JOB).get(admin_bulk::job),
        Route::at("/admin/audit/export").get(admin_audit::export),
        Route::at("/admin/mail-setup").get(mail_setup::admin_page),
        Route::at("/admin/notices").get(admin_notices::show),
        Route::at("/admin/api-tokens")
            .get(admin_api_tokens::show)
            .post(admin_api_tokens::create),
        Route::at("/admin/api-tokens/{id}/revoke")
            .get(admin_api_tokens::confirm_revoke)
            .post(admin_api_tokens::revoke),
        // The JSON API: bearer tokens only (web::api), documented by its OpenAPI document.
        Route::at("/api/v1/openapi.json").get(api::openapi::openapi_json),
        Route::at("/api/v1/accounts").get(api::accounts::list),
        Route::at("/api/v1/accounts/{id}").get(api::accounts::show),
        Route::at("/api/v1/invitations").post(api::actions::invite),
        Route::at("/api/v1/accounts/{id}/app-passwords/{password_id}/revoke")
            .post(api::actions::revoke_one),
        Route::at("/api/v1/accounts/{id}/revoke-all").post(api::actions::revoke_all),
        Route::at("/api/v1/accounts/{id}/compromised").post(api::actions::compromised),
        Route::at("/api/v1/bulk-revoke").post(api::bulk::start),
        Route::at("/api/v1/bulk-revoke/{job}").get(api::bulk::job),
        Route::at("/api/v1/audit").get(api::audit::page),
        Route::at("/api/v1/audit/export").get(api::audit::export),
        Route::at("/admin/dovecot/check").post(admin_dovecot::check),
        Route::at(ADMIN_USER).get(admin::user),
        Route::at("/admin/users/{id}/revoke-all").post(admin::revoke_all),
        Route::at("/admin/users/{id}/end-sessions").post(admin::end_sessions),
        Route::at("/admin/users/{id}/compromised")
            .get(admin_compromise::confirm)
            .post(admin_compromise::run),
        Route::at("/admin/users/{id}/flags").post(admin::set_flag),
        Route::at("/admin/users/{id}/role").post(admin::set_role),
        Route::at("/admin/users/{id}/confirm/{action}").get(admin_confirm::page),
        Route::at("/admin/users/{id}/app-passwords/{password_id}/revoke").post(admin::revoke_one),
        Route::at(SIGN_IN)
            .get(auth::sign_in_page)
            .post(auth::sign_in),
        Route::at(SECOND_FACTOR)
            .get(second_factor::step_page)
            .post(second_factor::step),
        Route::at("/sign-in/second-factor/passkey/options").post(second_factor::step_options),
        Route::at("/sign-in/second-factor/passkey").post(second_factor::step_passkey),
        Route::at(REAUTH)
            .get(second_factor::reauth_page)
            .post(second_factor::reauth),
        Route::at("/reauth/passkey/options").post(second_factor::reauth_options),
        Route::at("/reauth/passkey").post(second_factor::reauth_passkey),
        Route::at(SECURITY).get(security::index),
        Route::at("/account/second-factor/totp").post(security::totp_start),
        Route::at("/account/second-factor/totp/confirm").post(security::totp_confirm),
        Route::at("/account/second-factor/totp/remove").post(security::totp_remove),
        Route::at("/account/second-factor/recovery-codes").post(security::new_recovery_codes),
        Route::at("/account/second-factor/passkeys/options").post(security::passkey_options),
        Route::at("/account/second-factor/passkeys").post(security::passkey_register),
        Route::at("/account/second-factor/passkeys/{id}/remove").post(security::passkey_remove),
        Route::at("/admin/users/{id}/second-factor/reset")
            .get(admin::confirm_reset_factors)
            .post(admin::reset_factors),
        Route::at("/sign-out").post(auth::sign_out),
        Route::at("/sign-out-everywhere").post(auth::sign_out_everywhere),
        Route::at("/setup/{token}")
            .get(auth::setup_page)
            .post(auth::setup),
        // Thunderbird's autoconfig, on this host and on an `autoconfig.<domain>` host.
        Route::at("/.well-known/autoconfig/mail/config-v1.1.xml").get(mail_setup::autoconfig),
        Route::at("/mail/config-v1.1.xml").get(mail_setup::autoconfig),
        Route::at("/healthz").get(|| async { "ok" }),
        Route::at("/readyz").get(health::ready),
    ]
}

/// Every route as `(path pattern, methods)`, in axum's `{param}` syntax.
pub fn table() -> Vec<(&'static str, Vec<Method>)> {
    routes()
        .into_iter()
        .map(|route| (route.path, route.methods))
        .collect()
}

/// The router of every route in the table, before layers and state.
pub(super) fn router() -> axum::Router<AppState> {
    routes()
        .into_iter()
        .fold(axum::Router::new(), |router, route| {
            router.route(route.path, route.handlers)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_routes_of_the_table() {
        let paths: Vec<&str> = table().into_iter().map(|(path, _)| path).collect();
        for pattern in [
            DASHBOARD,
            ACCOUNT,
            SIGN_IN,
            ADMIN_USER,
            BULK_JOB,
            SECOND_FACTOR,
            SECURITY,
            REAUTH,
            ADMIN,
        ] {
            assert!(paths.contains(&pattern), "{pattern}");
        }
        assert_eq!(Page::AdminUser(UserId(7)).path(), "/admin/users/7");
        assert_eq!(Page::Dashboard.path(), "/");
        assert_eq!(Page::BulkJob(3).path(), "/admin/bulk-revoke/3");
    }

    #[test]
    fn every_route_answers_some_method_and_no_path_is_listed_twice() {
        let table = table();
        assert!(table.iter().all(|(_, methods)| !methods.is_empty()));
        let mut paths: Vec<&str> = table.iter().map(|(path, _)| *path).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), table.len());
    }
}
