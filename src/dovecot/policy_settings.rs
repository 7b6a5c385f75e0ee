//! The policy listener's settings, checked at start-up (and by every command): a secret of
//! at least [`MIN_SECRET_CHARS`] characters, and a loopback address unless
//! `policy_allow_remote` says otherwise.

use anyhow::bail;
use secrecy::ExposeSecret;

use super::policy::MIN_SECRET_CHARS;
use crate::config::Settings;

pub fn validate(settings: &Settings) -> anyhow::Result<()> {
    if let Some(secret) = &settings.policy_secret {
        if secret.expose_secret().chars().count() < MIN_SECRET_CHARS {
            bail!(
                "policy_secret must have at least {MIN_SECRET_CHARS} characters \
                 (`mailkeys dovecot config` generates one)"
            );
        }
    }
    let Some(addr) = settings.policy_listen else {
        return Ok(());
    };
    if settings.policy_secret.is_none() {
        bail!("policy_listen needs policy_secret");
    }
    if !addr.ip().is_loopback() && !settings.policy_allow_remote {
        bail!(
            "policy_listen {addr} is not a loopback address: Dovecot's reports should stay on \
             this host (127.0.0.1 or ::1); set policy_allow_remote = true to listen there anyway"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    const LONG_SECRET: &str = "0123456789abcdefghijklmnopqrstuv";

    fn with_policy(listen: &str, secret: &str) -> Settings {
        Settings {
            policy_listen: Some(listen.parse().unwrap()),
            policy_secret: Some(SecretString::from(secret)),
            ..Settings::default()
        }
    }

    #[test]
    fn a_policy_secret_under_32_characters_is_refused() {
        let short = with_policy("127.0.0.1:8025", &LONG_SECRET[..31]);
        assert!(short
            .validate()
            .unwrap_err()
            .to_string()
            .contains("policy_secret must have at least 32 characters"));
        assert!(with_policy("127.0.0.1:8025", LONG_SECRET)
            .validate()
            .is_ok());
        // Also when only `dovecot config` reads it.
        let without_listener = Settings {
            policy_listen: None,
            ..short
        };
        assert!(without_listener.validate().is_err());
    }

    #[test]
    fn the_policy_listener_stays_on_loopback_unless_allowed() {
        for addr in ["127.0.0.1:8025", "127.0.0.2:8025", "[::1]:8025"] {
            assert!(with_policy(addr, LONG_SECRET).validate().is_ok(), "{addr}");
        }
        for addr in ["0.0.0.0:8025", "192.0.2.10:8025", "[::]:8025"] {
            let refused = with_policy(addr, LONG_SECRET).validate().unwrap_err();
            assert!(
                refused.to_string().contains("is not a loopback address"),
                "{addr}: {refused}"
            );
            let allowed = Settings {
                policy_allow_remote: true,
                ..with_policy(addr, LONG_SECRET)
            };
            assert!(allowed.validate().is_ok(), "{addr}");
        }
    }
}
