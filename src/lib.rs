//! Mailkeys: self-hosted app passwords for IMAP, verified by Dovecot.
//!
//! Layout of the crate:
//! - [`cli`]: the `mailkeys` command line (`serve`, `migrate`, `user add|list`).
//! - [`config`]: settings from defaults, an optional TOML file and `MAILKEYS_*` variables.
//! - [`startup`]: wiring: `build(settings)` opens the database and returns a ready server.
//! - [`domain`]: types and rules with no I/O: usernames, app password names, lookup ids,
//!   the password policy, generation of app passwords, hashing profiles.
//! - [`store`]: persistence through sqlx (SQLite or PostgreSQL behind one `AnyPool`).
//! - [`web`]: HTTP handlers by area (auth, dashboard, account), sessions, CSRF and headers.
//! - [`credentials`]: credential changes shared by users and admins (one transaction plus
//!   the audit row, then the Dovecot cache flush and session kick).
//! - [`dovecot`]: the doveadm HTTP API client and the auth-policy listener (last use).
//! - [`error`]: the one error type every handler returns.
//! - [`clock`]: the source of "now", injectable so tests can move time.

pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod dovecot;
pub mod error;
pub mod imap;
pub mod services;
pub mod startup;
pub mod store;
pub mod web;
