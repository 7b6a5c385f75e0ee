//! What every Mailkeys test and the benchmark share; one place for each kind of stand-in.
//!
//! - [`app`]: the real application on port 0 with a fresh database (SQLite or PostgreSQL),
//!   and the macros `both_backends!`, `each_dovecot!`, `each_version!` that run one test body
//!   on each backend and Dovecot version.
//! - [`browser`]: a browser-like HTTP client (cookies, CSRF tokens, one method per action).
//! - [`dovecot`]: a real Dovecot 2.3 or 2.4 per test, from the generated configuration.
//! - [`certs`]: the certificate factory (test CA, issued and self-signed certificates).
//! - [`fake_imap`]: the scripted fake IMAP server.
//! - [`imap_client`]: the small IMAP client that logs in to a test Dovecot.
//! - [`ports`], [`cli`]: free and closed loopback ports; the `mailkeys` binary.
//! - [`smtp_sink`]: a real SMTP server on loopback (aiosmtpd) that records what it gets.
//!
//! A test crate takes it all with `use mailkeys_test_support::prelude::*;`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failed assumption is a failed test

pub mod app;
pub mod browser;
pub mod certs;
pub mod cli;
pub mod dovecot;
pub mod fake_imap;
pub mod imap_client;
pub mod ports;
pub mod smtp_sink;

/// The helpers most tests use, in one import.
pub mod prelude {
    pub use crate::app::*;
    pub use crate::browser::*;
    pub use crate::cli::*;
    pub use crate::ports::*;
    pub use crate::smtp_sink::*;
    pub use crate::{both_backends, each_dovecot, each_version};
}
