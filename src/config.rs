//! Settings: built-in defaults, then an optional TOML file (`--config` or
//! `MAILKEYS_CONFIG`), then `MAILKEYS_*` environment variables, then `DATABASE_URL`.
//! Every field is listed in the README's configuration table.

use std::net::SocketAddr;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

pub use crate::domain::mail_setup::SmtpSecurity;
use crate::domain::second_factor::RequireSecondFactor;
use crate::dovecot::DovecotVersion;
use crate::imap::{Limits, MailServer, TlsMode};
use crate::infra::hashing::HashProfile;
pub use crate::infra::mail::RelaySecurity;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address the web UI listens on.
    pub listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://…`.
    pub database_url: String,
    /// The URL people type in the browser. With `https://…`, cookies get `Secure` and the
    /// `__Host-` prefix and responses carry HSTS.
    pub public_url: Option<url::Url>,
    /// IMAP settings shown next to a new app password.
    pub imap_host: String,
    pub imap_port: u16,
    /// Outgoing (submission) server for mail apps; none: `imap_host`.
    pub smtp_host: Option<String>,
    pub smtp_port: u16,
    pub smtp_security: SmtpSecurity,
    /// Mail servers the connection test may sign in to. Empty: one server made of
    /// `imap_host` and `imap_port` (implicit TLS on 993, STARTTLS otherwise).
    pub mail_servers: Vec<MailServer>,
    /// Time limits of the connection test: each step, and the whole check.
    pub check_step_timeout_secs: u64,
    pub check_total_timeout_secs: u64,
    /// Connection tests allowed per user and per client IP per minute.
    pub checks_per_minute: u32,
    /// Minimum length of a main password (never below 8).
    pub min_password_length: usize,
    /// Whether a new account's main password may log in over IMAP.
    pub main_password_imap_default: bool,
    pub session_idle_timeout_secs: i64,
    pub session_absolute_timeout_secs: i64,
    pub setup_link_ttl_secs: i64,
    /// Audit entries older than this many days are deleted by the daily cleanup (itself
    /// audited); 0 keeps them forever.
    pub audit_retention_days: u32,
    /// Argon2id cost of human-chosen main passwords.
    pub hash_main_memory_kib: u32,
    pub hash_main_iterations: u32,
    pub hash_main_parallelism: u32,
    /// Argon2id cost of server-generated app passwords (their entropy protects them).
    pub hash_app_memory_kib: u32,
    pub hash_app_iterations: u32,
    pub hash_app_parallelism: u32,
    /// Hashes computed at once; 0 means one fewer than the CPU cores (at least one).
    pub hash_concurrency: usize,
    /// Reverse proxies whose `X-Forwarded-For` is believed (CIDRs); nobody else's is.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Web sign-in attempts allowed per client IP per minute (on top of the per-account lock).
    pub sign_in_per_ip_per_minute: u32,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Time a client has to send a complete request head, from when the connection opens
    /// or the previous response ends (so also how long an idle keep-alive connection stays).
    pub http_header_timeout_secs: u64,
    /// Time limit of a whole request, from its head to its response.
    pub http_request_timeout_secs: u64,
    /// Web connections open at once (lowered to fit the open-file limit).
    pub max_connections: usize,
    /// Web connections open at once from one client address (IPv6: one /64); trusted
    /// proxies count toward `max_connections` only.
    pub max_connections_per_address: usize,
    /// Dovecot doveadm HTTP API, used to flush the auth cache and kick sessions.
    pub doveadm_url: Option<url::Url>,
    #[serde(deserialize_with = "secret_text")]
    pub doveadm_api_key: Option<SecretString>,
    /// Dovecot's release series (2.3 or 2.4); unset: learned from the doveadm API.
    #[serde(deserialize_with = "version_text")]
    pub dovecot_version: Option<DovecotVersion>,
    /// Listener for Dovecot's auth-policy reports (last use of each credential).
    pub policy_listen: Option<SocketAddr>,
    #[serde(deserialize_with = "secret_text")]
    pub policy_secret: Option<SecretString>,
    /// Lets `policy_listen` be an address other than loopback (refused otherwise).
    pub policy_allow_remote: bool,
    /// Listener for Prometheus (`GET /metrics`); none by default.
    pub metrics_listen: Option<SocketAddr>,
    /// Lets `metrics_listen` be an address other than loopback.
    pub metrics_allow_non_loopback: bool,
    /// How log lines are written to standard error.
    pub log_format: LogFormat,
    /// Whose accounts must have a second factor: `nobody`, `admins` or `everyone`. Such an
    /// account without one is sent to enrolment after signing in and can do nothing else.
    pub require_second_factor: RequireSecondFactor,
    /// Creating a credential asks for the second factor again when it was last given
    /// longer ago than this (accounts with a second factor only).
    pub reauth_after_secs: i64,
    /// SMTP relay that sends notices of credential changes (none: no notice is queued),
    /// its port (unset: the security's usual one), how it is reached, its credentials.
    pub smtp_relay_host: Option<String>,
    pub smtp_relay_port: Option<u16>,
    pub smtp_relay_security: RelaySecurity,
    #[serde(deserialize_with = "secret_text")]
    pub smtp_relay_username: Option<SecretString>,
    #[serde(deserialize_with = "secret_text")]
    pub smtp_relay_password: Option<SecretString>,
    /// PEM file of certificate authorities trusted for the relay, besides the system's.
    pub smtp_relay_ca_file: Option<PathBuf>,
    /// The From address of notices (required with a relay).
    pub notice_from: Option<String>,
    /// First wait before a notice is tried again, doubling up to `notice_retry_max_secs`.
    pub notice_retry_base_secs: i64,
    pub notice_retry_max_secs: i64,
    /// A notice still not sent this long after it was queued is marked failed.
    pub notice_give_up_secs: i64,
}

/// `log_format`: human-readable lines, or one JSON object per line for a log collector.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// `dovecot_version = "2.4"`, also from `MAILKEYS_DOVECOT_VERSION=2.4`, which the
/// environment provider would read as the number 2.4.
fn version_text<'de, D: serde::Deserializer<'de>>(
    de: D,
) -> Result<Option<DovecotVersion>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        Str(String),
        Float(f64),
    }
    match Option::<Text>::deserialize(de)? {
        None => Ok(None),
        Some(Text::Str(s)) => s.parse().map(Some).map_err(serde::de::Error::custom),
        Some(Text::Float(f)) => format!("{f:.1}")
            .parse()
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// A secret read as text even when it looks like a number (`MAILKEYS_POLICY_SECRET=12345`):
/// environment values are otherwise typed as TOML would type them.
fn secret_text<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<SecretString>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        Str(String),
        Int(i64),
        Float(f64),
    }
    Ok(Option::<Text>::deserialize(de)?.map(|t| {
        SecretString::from(match t {
            Text::Str(s) => s,
            Text::Int(i) => i.to_string(),
            Text::Float(f) => f.to_string(),
        })
    }))
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://mailkeys.db".into(),
            public_url: None,
            imap_host: "localhost".into(),
            imap_port: 993,
            smtp_host: None,
            smtp_port: 465,
            smtp_security: SmtpSecurity::Implicit,
            mail_servers: Vec::new(),
            check_step_timeout_secs: 5,
            check_total_timeout_secs: 20,
            checks_per_minute: 5,
            min_password_length: 12,
            main_password_imap_default: false,
            session_idle_timeout_secs: 30 * 60,
            session_absolute_timeout_secs: 12 * 60 * 60,
            setup_link_ttl_secs: 60 * 60,
            audit_retention_days: 365,
            hash_main_memory_kib: 19_456,
            hash_main_iterations: 2,
            hash_main_parallelism: 1,
            hash_app_memory_kib: 1024,
            hash_app_iterations: 1,
            hash_app_parallelism: 1,
            hash_concurrency: 0,
            trusted_proxies: Vec::new(),
            sign_in_per_ip_per_minute: 20,
            max_body_bytes: 64 * 1024,
            http_header_timeout_secs: 10,
            http_request_timeout_secs: 60,
            max_connections: 512,
            max_connections_per_address: 32,
            doveadm_url: None,
            doveadm_api_key: None,
            dovecot_version: None,
            policy_listen: None,
            policy_secret: None,
            metrics_listen: None,
            metrics_allow_non_loopback: false,
            log_format: LogFormat::Text,
            policy_allow_remote: false,
            require_second_factor: RequireSecondFactor::Nobody,
            reauth_after_secs: 10 * 60,
            smtp_relay_host: None,
            smtp_relay_port: None,
            smtp_relay_security: RelaySecurity::StartTls,
            smtp_relay_username: None,
            smtp_relay_password: None,
            smtp_relay_ca_file: None,
            notice_from: None,
            notice_retry_base_secs: 30,
            notice_retry_max_secs: 60 * 60,
            notice_give_up_secs: 3 * 24 * 60 * 60,
        }
    }
}

impl Settings {
    pub fn main_profile(&self) -> HashProfile {
        HashProfile {
            memory_kib: self.hash_main_memory_kib,
            iterations: self.hash_main_iterations,
            parallelism: self.hash_main_parallelism,
        }
    }

    pub fn app_profile(&self) -> HashProfile {
        HashProfile {
            memory_kib: self.hash_app_memory_kib,
            iterations: self.hash_app_iterations,
            parallelism: self.hash_app_parallelism,
        }
    }

    /// The outgoing server's host name (`smtp_host`, or `imap_host` when unset).
    pub fn smtp_host(&self) -> &str {
        self.smtp_host.as_deref().unwrap_or(&self.imap_host)
    }

    /// The servers mail clients are told to use (show-once page, setup files, SRV records).
    pub fn mail_client_servers(&self) -> crate::domain::mail_setup::MailServers {
        crate::domain::mail_setup::MailServers::new(
            (&self.imap_host, self.imap_port),
            (self.smtp_host(), self.smtp_port),
            self.smtp_security,
        )
    }

    /// The servers the connection test offers (see `mail_servers`).
    pub fn check_targets(&self) -> Vec<MailServer> {
        if !self.mail_servers.is_empty() {
            return self.mail_servers.clone();
        }
        let tls = if self.imap_port == 993 {
            TlsMode::Implicit
        } else {
            TlsMode::StartTls
        };
        vec![MailServer {
            name: "Mail server".into(),
            host: self.imap_host.clone(),
            port: self.imap_port,
            tls,
            ca_file: None,
        }]
    }

    /// The names of [`Self::check_targets`], as scripts and the admin page choose them.
    pub fn check_target_names(&self) -> Vec<String> {
        self.check_targets().into_iter().map(|s| s.name).collect()
    }

    pub fn check_limits(&self) -> Limits {
        Limits::from_secs(self.check_step_timeout_secs, self.check_total_timeout_secs)
    }

    /// True when the service is reached over HTTPS, so cookies may be `Secure`.
    pub fn is_https(&self) -> bool {
        self.public_url
            .as_ref()
            .is_some_and(|url| url.scheme() == "https")
    }

    pub fn base_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.as_str().trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }
}

#[path = "config_load.rs"]
mod load;

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
