//! Black-box tests of the running service. Every test runs against SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failed assumption is a failed test

// The shared harness (crates/test-support): `crate::dovecot`, and the macros by their
// short names.
pub(crate) use mailkeys_test_support::dovecot;
pub(crate) use mailkeys_test_support::{both_backends, each_dovecot, each_version};

mod activity;
mod activity_dovecot;
mod admin;
mod admin_accounts;
mod api_v1;
mod api_v1_auth;
mod api_v1_drill;
mod api_v1_endpoints;
mod api_v1_openapi;
mod app_passwords;
mod attempts;
mod audit_log;
mod auth;
mod authorization;
mod authorization_accounts;
mod backup;
mod browser;
mod browser_keyboard;
mod browser_layout;
mod browser_mail_setup;
mod bulk_job_shutdown;
mod bulk_revoke;
mod bulk_revoke_dovecot;
mod bulk_revoke_many;
mod check;
mod check_dovecot;
mod check_dovecot_refusals;
mod cli;
mod compromise;
mod dashboard_list;
mod dovecot_baseline;
mod dovecot_cli;
mod dovecot_config;
mod dovecot_db;
mod dovecot_generated;
mod dovecot_permissions;
mod dovecot_scopes;
mod dovecot_selfcheck;
mod faults;
mod imap_logins;
mod input;
mod invitations;
mod listener;
mod logs;
mod mail_discovery;
mod mail_setup;
mod notices;
mod notices_relay;
mod notices_sign_in;
mod operations;
mod password_rules;
mod policy;
mod policy_guard;
mod rotation;
mod routes;
mod second_factor;
mod second_factor_browser;
mod second_factor_guards;
mod session_end;
mod shutdown;
mod web_security;
