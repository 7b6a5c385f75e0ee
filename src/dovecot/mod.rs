//! Talking to Dovecot: the doveadm HTTP API client (kick live sessions; flush the auth cache
//! where the version can), the auth-policy listener that records last use, the configuration
//! generator (`mailkeys dovecot config`) and the Dovecot version these depend on.

pub mod config;
pub mod doveadm;
pub mod policy;
pub mod policy_guard;
pub mod policy_settings;
pub mod selfcheck;
pub mod status;
pub mod version;

pub use version::DovecotVersion;
