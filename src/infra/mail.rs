//! The SMTP relay that notices go out through (`lettre`, over tokio and rustls): its
//! settings, their checks at start-up, and one `send` per message. What is sent and when is
//! `services::notices`.

use std::time::Duration;

use anyhow::{bail, Context};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::config::Settings;

/// `smtp_relay_security`: how the connection to the relay is protected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelaySecurity {
    /// Plain connection upgraded with STARTTLS, which is required (never sent in clear).
    #[default]
    StartTls,
    /// TLS from the first byte (SMTPS).
    Tls,
    /// No encryption: only for a relay on loopback (start-up refuses any other host).
    None,
}

impl RelaySecurity {
    pub fn default_port(self) -> u16 {
        match self {
            Self::StartTls => 587,
            Self::Tls => 465,
            Self::None => 25,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::StartTls => "starttls",
            Self::Tls => "tls",
            Self::None => "none",
        }
    }
}

/// A host name or address that never leaves this machine.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The start-up checks of the relay settings (part of `Settings::validate`).
pub fn validate(settings: &Settings) -> anyhow::Result<()> {
    let Some(host) = &settings.smtp_relay_host else {
        return Ok(());
    };
    if host.trim().is_empty() {
        bail!("smtp_relay_host is empty: remove it to send no notices");
    }
    match &settings.notice_from {
        Some(from) => {
            from.parse::<Mailbox>()
                .with_context(|| format!("notice_from {from:?} is not a mail address"))?;
        }
        None => bail!("smtp_relay_host needs notice_from, the From address of notices"),
    }
    if settings.smtp_relay_security == RelaySecurity::None && !is_loopback(host) {
        bail!(
            "smtp_relay_security = \"none\" is only allowed for a relay on loopback \
             (127.0.0.1, ::1, localhost): use \"starttls\" or \"tls\" for {host}"
        );
    }
    if settings.smtp_relay_username.is_some() != settings.smtp_relay_password.is_some() {
        bail!("smtp_relay_username and smtp_relay_password go together");
    }
    if settings.notice_retry_base_secs < 1
        || settings.notice_retry_max_secs < settings.notice_retry_base_secs
        || settings.notice_give_up_secs < 1
    {
        bail!(
            "notice retries: notice_retry_base_secs must be at least 1, notice_retry_max_secs \
             at least that, and notice_give_up_secs positive"
        );
    }
    Ok(())
}

/// Why the relay did not take a message. The text is the relay's answer or the connection
/// error, which never holds the relay's password (lettre sends it, never prints it).
#[derive(Debug)]
pub struct NotSent {
    /// The relay refused for good (a 5xx answer): trying again cannot help.
    pub permanent: bool,
    pub reason: String,
}

/// The configured relay. No `Debug`: it holds the relay's credentials.
#[derive(Clone)]
pub struct Relay {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    pub from: Mailbox,
}

/// Time limit of each exchange with the relay; a stuck relay delays the next notices by at
/// most this much.
const RELAY_TIMEOUT: Duration = Duration::from_secs(30);

impl Relay {
    /// The relay of `settings`, or `None` when no relay is configured.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Option<Self>> {
        let Some(host) = settings.smtp_relay_host.as_deref() else {
            return Ok(None);
        };
        let security = settings.smtp_relay_security;
        let port = settings
            .smtp_relay_port
            .unwrap_or_else(|| security.default_port());
        let from: Mailbox = settings
            .notice_from
            .as_deref()
            .unwrap_or_default()
            .parse()
            .context("notice_from is not a mail address")?;
        let tls = match security {
            RelaySecurity::None => Tls::None,
            RelaySecurity::StartTls => Tls::Required(tls_parameters(host, settings)?),
            RelaySecurity::Tls => Tls::Wrapper(tls_parameters(host, settings)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(RELAY_TIMEOUT));
        if let (Some(user), Some(password)) =
            (&settings.smtp_relay_username, &settings.smtp_relay_password)
        {
            builder = builder.credentials(Credentials::new(
                user.expose_secret().to_owned(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Some(Self {
            transport: builder.build(),
            from,
        }))
    }

    /// Hands one message to the relay; `Ok` only once the relay accepted it.
    pub async fn send(&self, message: Message) -> Result<(), NotSent> {
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(err) => Err(NotSent {
                permanent: err.is_permanent(),
                reason: describe(&err),
            }),
        }
    }
}

/// The error and its causes on one line, cut to a size an admin page can show.
fn describe(err: &lettre::transport::smtp::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(300).collect()
}

/// Certificates are checked against the system's authorities and, when set, those of
/// `smtp_relay_ca_file` (a private relay's own authority).
fn tls_parameters(host: &str, settings: &Settings) -> anyhow::Result<TlsParameters> {
    let mut params = TlsParameters::builder(host.to_owned());
    if let Some(path) = &settings.smtp_relay_ca_file {
        let pem = std::fs::read(path)
            .with_context(|| format!("cannot read smtp_relay_ca_file {}", path.display()))?;
        let certs = Certificate::from_pem(&pem)
            .with_context(|| format!("smtp_relay_ca_file {} holds no PEM", path.display()))?;
        params = params.add_root_certificate(certs);
    }
    params
        .build_rustls()
        .context("cannot set up TLS for the SMTP relay")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay_settings(host: &str, security: RelaySecurity) -> Settings {
        Settings {
            smtp_relay_host: Some(host.into()),
            smtp_relay_security: security,
            notice_from: Some("Mailkeys <keys@example.org>".into()),
            ..Settings::default()
        }
    }

    #[test]
    fn plain_smtp_is_refused_unless_the_relay_is_on_loopback() {
        for host in ["127.0.0.1", "::1", "[::1]", "localhost"] {
            assert!(validate(&relay_settings(host, RelaySecurity::None)).is_ok());
        }
        let err = validate(&relay_settings("smtp.example.org", RelaySecurity::None));
        assert!(err.unwrap_err().to_string().contains("only allowed"));
        assert!(validate(&relay_settings("smtp.example.org", RelaySecurity::StartTls)).is_ok());
    }

    #[test]
    fn a_relay_needs_a_from_address_and_whole_credentials() {
        let mut settings = relay_settings("smtp.example.org", RelaySecurity::Tls);
        settings.notice_from = None;
        assert!(validate(&settings).is_err());
        settings.notice_from = Some("not an address".into());
        assert!(validate(&settings).is_err());
        settings.notice_from = Some("keys@example.org".into());
        settings.smtp_relay_username = Some("relay-user".to_owned().into());
        assert!(validate(&settings).is_err());
        settings.smtp_relay_password = Some("relay-secret".to_owned().into());
        assert!(validate(&settings).is_ok());
        assert_eq!(RelaySecurity::Tls.default_port(), 465);
    }
}
