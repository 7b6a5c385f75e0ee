//! Reading the settings (file, then environment) and refusing inconsistent ones at start-up.

use std::path::Path;

use anyhow::{bail, Context};
use figment::providers::{Env, Format, Toml};
use figment::Figment;

use super::Settings;

/// Every setting's name, as read from `MAILKEYS_<NAME>`.
pub(super) const FIELDS: &[&str] = &[
    "listen",
    "database_url",
    "public_url",
    "imap_host",
    "imap_port",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "mail_servers",
    "check_step_timeout_secs",
    "check_total_timeout_secs",
    "checks_per_minute",
    "min_password_length",
    "main_password_imap_default",
    "session_idle_timeout_secs",
    "session_absolute_timeout_secs",
    "setup_link_ttl_secs",
    "audit_retention_days",
    "hash_main_memory_kib",
    "hash_main_iterations",
    "hash_main_parallelism",
    "hash_app_memory_kib",
    "hash_app_iterations",
    "hash_app_parallelism",
    "hash_concurrency",
    "trusted_proxies",
    "sign_in_per_ip_per_minute",
    "max_body_bytes",
    "http_header_timeout_secs",
    "http_request_timeout_secs",
    "max_connections",
    "max_connections_per_address",
    "doveadm_url",
    "doveadm_api_key",
    "dovecot_version",
    "policy_listen",
    "policy_secret",
    "metrics_listen",
    "metrics_allow_non_loopback",
    "log_format",
    "policy_allow_remote",
    "require_second_factor",
    "reauth_after_secs",
    "smtp_relay_host",
    "smtp_relay_port",
    "smtp_relay_security",
    "smtp_relay_username",
    "smtp_relay_password",
    "smtp_relay_ca_file",
    "notice_from",
    "notice_retry_base_secs",
    "notice_retry_max_secs",
    "notice_give_up_secs",
];

impl Settings {
    /// Loads settings from the optional TOML file and the environment.
    pub fn load(config_file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::new();
        if let Some(path) = config_file {
            if !path.exists() {
                bail!("config file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file(path));
        }
        let settings: Settings = figment
            // Only our own names: other MAILKEYS_* variables (a test suite's, say) are not ours.
            .merge(Env::prefixed("MAILKEYS_").only(FIELDS))
            .merge(Env::raw().only(&["database_url"]))
            .extract()
            .context("invalid configuration")?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.smtp_port == 0 || self.imap_port == 0 {
            bail!("imap_port and smtp_port must not be 0");
        }
        if self
            .smtp_host
            .as_deref()
            .is_some_and(|h| h.trim().is_empty())
        {
            bail!("smtp_host must not be empty (leave it out to use imap_host)");
        }
        if self.min_password_length < 8 {
            bail!("min_password_length must be at least 8");
        }
        for server in &self.mail_servers {
            server
                .validate()
                .map_err(|e| anyhow::anyhow!("mail_servers: {e}"))?;
        }
        if self.check_step_timeout_secs == 0
            || self.check_total_timeout_secs < self.check_step_timeout_secs
        {
            bail!(
                "check timeouts: the step limit must be positive and the total at least one step"
            );
        }
        if self.checks_per_minute == 0 {
            bail!("checks_per_minute must be at least 1");
        }
        if self.sign_in_per_ip_per_minute == 0 {
            bail!("sign_in_per_ip_per_minute must be at least 1");
        }
        if self.http_header_timeout_secs == 0
            || self.max_connections == 0
            || self.max_connections_per_address == 0
        {
            bail!("http_header_timeout_secs, max_connections and max_connections_per_address must be positive");
        }
        if self.http_request_timeout_secs <= self.check_total_timeout_secs {
            bail!("http_request_timeout_secs must be longer than check_total_timeout_secs");
        }
        if self.reauth_after_secs <= 0 {
            bail!("reauth_after_secs must be positive");
        }
        if self.session_idle_timeout_secs <= 0 || self.session_absolute_timeout_secs <= 0 {
            bail!("session timeouts must be positive");
        }
        if self.doveadm_url.is_some() != self.doveadm_api_key.is_some() {
            bail!("doveadm_url and doveadm_api_key go together");
        }
        crate::dovecot::policy_settings::validate(self)?;
        crate::infra::mail::validate(self)?;
        if let Some(addr) = self.metrics_listen {
            if !addr.ip().is_loopback() && !self.metrics_allow_non_loopback {
                bail!(
                    "metrics_listen {addr} is not a loopback address: anyone who can reach it \
                     could read the metrics. Use 127.0.0.1 or ::1, or set \
                     metrics_allow_non_loopback = true if a firewall guards it"
                );
            }
        }
        if self.trusted_proxies.iter().any(|n| n.prefix_len() == 0) {
            bail!("trusted_proxies must not trust every address");
        }
        self.main_profile().params()?;
        self.app_profile().params()?;
        Ok(())
    }
}
