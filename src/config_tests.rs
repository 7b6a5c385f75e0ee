//! Unit tests of `config` (kept apart to keep that file short).

use super::*;
use figment::providers::{Format, Toml};
use figment::Figment;

#[test]
fn every_setting_is_listed_for_the_environment() {
    // Each listed name is a real field: an unknown one fails with "unknown field".
    for field in super::load::FIELDS {
        let result = Figment::new()
            .merge(Toml::string(&format!("{field} = []")))
            .extract::<Settings>();
        let err = result.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(!err.contains("unknown field"), "{field}: {err}");
    }
    let err = Figment::new()
        .merge(Toml::string("no_such_setting = 1"))
        .extract::<Settings>()
        .unwrap_err();
    assert!(err.to_string().contains("unknown field"));
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail API returns its own large error type
fn the_dovecot_version_is_read_from_the_environment_and_the_file() {
    figment::Jail::expect_with(|jail| {
        // The environment provider types 2.4 as a number.
        jail.set_env("MAILKEYS_DOVECOT_VERSION", "2.4");
        let settings = Settings::load(None).expect("loads");
        assert_eq!(settings.dovecot_version, Some(DovecotVersion::V2_4));
        jail.set_env("MAILKEYS_DOVECOT_VERSION", "2.2");
        assert!(Settings::load(None).is_err());
        Ok(())
    });
    let from_file: Settings = Figment::new()
        .merge(Toml::string("dovecot_version = \"2.3\""))
        .extract()
        .unwrap();
    assert_eq!(from_file.dovecot_version, Some(DovecotVersion::V2_3));
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail API returns its own large error type
fn a_numeric_secret_from_the_environment_is_read_as_text() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("MAILKEYS_POLICY_LISTEN", "127.0.0.1:8081");
        jail.set_env("MAILKEYS_POLICY_SECRET", "1234567890123456");
        jail.set_env("MAILKEYS_DOVEADM_URL", "http://127.0.0.1:8026");
        jail.set_env("MAILKEYS_DOVEADM_API_KEY", "12345");
        jail.set_env("MAILKEYS_TEST_SOMETHING_ELSE", "ignored");
        // A 16-digit policy secret is too short to start with; the numeric doveadm key
        // is read as text.
        let refused = Settings::load(None).unwrap_err();
        assert!(format!("{refused:#}").contains("at least 32 characters"));
        jail.set_env("MAILKEYS_POLICY_SECRET", LONG_SECRET);
        let settings = Settings::load(None).expect("loads");
        use secrecy::ExposeSecret;
        assert_eq!(settings.doveadm_api_key.unwrap().expose_secret(), "12345");
        assert_eq!(settings.policy_secret.unwrap().expose_secret(), LONG_SECRET);
        Ok(())
    });
}

const LONG_SECRET: &str = "0123456789abcdefghijklmnopqrstuv";

#[test]
#[allow(clippy::result_large_err)] // figment's Jail API returns its own large error type
fn policy_allow_remote_is_read_from_the_environment() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("MAILKEYS_POLICY_LISTEN", "0.0.0.0:8025");
        jail.set_env("MAILKEYS_POLICY_SECRET", LONG_SECRET);
        assert!(Settings::load(None).is_err());
        jail.set_env("MAILKEYS_POLICY_ALLOW_REMOTE", "true");
        assert!(Settings::load(None).expect("loads").policy_allow_remote);
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail API returns its own large error type
fn outgoing_mail_settings_come_from_the_environment_as_the_readme_says() {
    figment::Jail::expect_with(|jail| {
        let defaults = Settings::load(None).expect("loads");
        assert_eq!(defaults.smtp_host(), "localhost", "imap_host when unset");
        assert_eq!(defaults.smtp_port, 465);
        assert_eq!(defaults.smtp_security, SmtpSecurity::Implicit);
        jail.set_env("MAILKEYS_SMTP_HOST", "smtp.example.org");
        jail.set_env("MAILKEYS_SMTP_PORT", "587");
        jail.set_env("MAILKEYS_SMTP_SECURITY", "starttls");
        let settings = Settings::load(None).expect("loads");
        assert_eq!(settings.smtp_host(), "smtp.example.org");
        assert_eq!(settings.smtp_port, 587);
        assert_eq!(settings.smtp_security, SmtpSecurity::Starttls);
        let servers = settings.mail_client_servers();
        assert!(!servers.smtp.implicit_tls && servers.imap.implicit_tls);
        jail.set_env("MAILKEYS_SMTP_SECURITY", "implicit");
        assert_eq!(
            Settings::load(None).expect("loads").smtp_security,
            SmtpSecurity::Implicit
        );
        jail.set_env("MAILKEYS_SMTP_SECURITY", "tls");
        assert!(
            Settings::load(None).is_err(),
            "only the two documented values"
        );
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail API returns its own large error type
fn the_second_factor_settings_are_read_as_the_readme_writes_them() {
    use crate::domain::second_factor::RequireSecondFactor;
    figment::Jail::expect_with(|jail| {
        assert_eq!(
            Settings::load(None).expect("loads").require_second_factor,
            RequireSecondFactor::Nobody
        );
        jail.set_env("MAILKEYS_REQUIRE_SECOND_FACTOR", "everyone");
        jail.set_env("MAILKEYS_REAUTH_AFTER_SECS", "300");
        let settings = Settings::load(None).expect("loads");
        assert_eq!(
            settings.require_second_factor,
            RequireSecondFactor::Everyone
        );
        assert_eq!(settings.reauth_after_secs, 300);
        jail.set_env("MAILKEYS_REAUTH_AFTER_SECS", "0");
        assert!(Settings::load(None).is_err());
        Ok(())
    });
    let from_file: Settings = Figment::new()
        .merge(Toml::string(
            "require_second_factor = \"admins\"\nreauth_after_secs = 600",
        ))
        .extract()
        .unwrap();
    assert_eq!(from_file.require_second_factor, RequireSecondFactor::Admins);
    assert_eq!(Settings::default().reauth_after_secs, 600);
}

#[test]
fn the_readmes_relay_example_is_a_valid_configuration() {
    let readme = include_str!("../README.md");
    let section = &readme[readme.find("## Notices by mail").unwrap_or(0)..];
    let block = section
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap_or_default();
    let settings: Settings = Figment::new().merge(Toml::string(block)).extract().unwrap();
    settings.validate().unwrap();
    assert_eq!(
        settings.smtp_relay_host.as_deref(),
        Some("smtp.example.org")
    );
    assert_eq!(settings.smtp_relay_security, RelaySecurity::StartTls);
    assert!(settings.smtp_relay_password.is_some());
    let relay = crate::infra::mail::Relay::from_settings(&settings).unwrap();
    assert!(relay.is_some_and(|r| r.from.email.to_string() == "mailkeys@example.org"));
}
