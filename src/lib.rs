//! Mailkeys: self-hosted app passwords for IMAP, verified by Dovecot.
//!
//! Layout of the crate, and where a change goes:
//! - [`services`]: the use cases, one function each (create, revoke, change a password,
//!   sign in, the second factor (`services::second_factor`: TOTP, recovery codes, passkeys,
//!   re-authentication, admin reset), create an account (`users`, `invitations`), admin
//!   actions (`admin`: flags, roles, the compromised-account response; `accounts`: the
//!   account list; `bulk_revoke`, run from the web as a job by `bulk_jobs`; `audit_log` and
//!   `audit_filter`: the log's view, export and retention; `activity`: recent logins, logins
//!   per hour, the login history's pruning; `api_tokens`: the JSON API's bearer tokens), run
//!   a connection test), who acts (`actor`: a person, through the browser or an API token,
//!   or the command line), each owning its transaction, audit entry and Dovecot sync, over a
//!   [`services::Services`] value (database, hasher, settings, clock, Dovecot, WebAuthn
//!   relying party). A new action goes here first. Imports nothing from `web`.
//!   A change to how an account signs in also queues its notice by mail in its own
//!   transaction (`services::notices::enqueue`; the worker there sends the queue).
//! - [`web`]: HTTP handlers by area (auth, dashboard, account, admin, check), which parse the
//!   request, call a service and render; sessions (`web::session`: the extractors, and the
//!   session that still owes its second factor), CSRF, headers, rate limits. A new page or
//!   endpoint is a handler here, calling a service, and a line in `web::routes` (the one
//!   route table: the router is built from it and the route tests walk it; redirect
//!   targets are its `Page`s). `web::listener` is the accept loop: connection caps, header
//!   and request timeouts, graceful stop. `web::api` is the JSON API under `/api/v1`:
//!   bearer tokens only (its extractors `ApiReader`, `ApiWriter`), and its OpenAPI 3.1
//!   document (`web::api::openapi`, utoipa) that a test holds to the route table.
//! - [`cli`]: the `mailkeys` command line (`serve`, `migrate`, `user add|list|invite|
//!   disable|enable|revoke|compromised|role`, `audit export|clean-up`, `api-token
//!   create|list|revoke`, `backup`, `restore`,
//!   `dovecot config|check`), also calling services.
//! - [`domain`]: types and rules with no I/O: the typed ids (`UserId`, `AppPasswordId`),
//!   usernames, app password names, lookup ids, scopes, statuses, the password policy, the
//!   shape of an app password.
//! - [`infra`]: what has I/O under the domain: Argon2id hashing (`hashing`: cost profiles,
//!   decoy hash) on its own threads (`hash_pool`: cores − 1, memory held only while busy),
//!   the keyed hashes that count password attempts without storing what was typed
//!   (`attempt_keys`), the OS random generator (app passwords, tokens, salts), the sealing
//!   of a new app password for its one showing (`sealing`, keyed by the session cookie), and the
//!   Prometheus metrics (`infra::metrics`: one function per event, e.g.
//!   `state.metrics.sign_in(…)`; served by `web::metrics` on `metrics_listen`), and the
//!   SMTP relay of notices (`infra::mail`).
//!   Every check of a typed password against a main-password hash goes through
//!   `services::attempts` first (counts per account and address, decided before hashing).
//! - [`store`]: persistence through sqlx (SQLite or PostgreSQL behind one `AnyPool`); one
//!   module per table, migrations per backend under `migrations/`; `store::backup` for
//!   SQLite backups and restores.
//! - [`dovecot`]: everything about Dovecot: the configuration generator per version
//!   (`dovecot::config`, templates under `templates/dovecot/`; a new Dovecot version is a
//!   new [`dovecot::DovecotVersion`] and its templates), the doveadm HTTP client, the
//!   auth-policy listener (last use, the login history), and the live self-check.
//! - [`imap`]: the connection-test engine (probe, TLS inspection, verdicts), the crate
//!   `crates/mailkeys-imap` re-exported; a new verdict goes there (its `lib.rs` map says
//!   where). Tests share `crates/test-support` (app on port 0, browser, Dovecot harness).
//! - [`config`]: settings from defaults, an optional TOML file and `MAILKEYS_*` variables.
//! - [`startup`]: wiring: `build(settings)` opens the database and returns a ready server
//!   (web, policy and metrics listeners). Readiness (`/readyz`) is `services::health`.
//! - [`error`]: the one error type every service and handler returns (no HTTP in it; how
//!   it is shown, a page or `/api/` problem details, is `web::error_response`).
//! - [`clock`]: the source of "now", injectable so tests can move time.
//!
//! Where a few likely changes go, each in one step:
//! - **an admin API endpoint**: a use case in `services`, a JSON handler in `web::api`
//!   taking `ApiReader` (GET) or `ApiWriter` (POST) and annotated with `#[utoipa::path]`,
//!   listed in `web::api::openapi::ApiDoc`, and a line under `/api/v1/` in `web::routes`;
//!   errors turn into problem details by themselves (`web::error_response`).
//! - **a new verdict** of the connection test: `crates/mailkeys-imap/src/verdict/`
//!   (`classify` decides it, `wording` says it).
//! - **a third database**: a [`store::Backend`] variant (connection and dialect in
//!   `store/mod.rs`), its own `migrations/<name>/`, and a
//!   [`dovecot::config::DatabaseKind`] with its templates so Dovecot can read it.
//! - **a new Dovecot version**: a [`dovecot::DovecotVersion`] variant, its templates under
//!   `templates/dovecot/<version>/`, and its test install in `crates/test-support`
//!   (`dovecot::install`).

pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod dovecot;
pub mod error;
pub use mailkeys_imap as imap;
pub mod infra;
pub mod services;
pub mod startup;
pub mod store;
pub mod web;
