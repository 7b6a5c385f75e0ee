//! What each verdict says: a title, advice in plain words, and a stable name for the JSON
//! endpoint and the templates.

use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::Verdict;
use crate::report::Step;

/// Ends a text with a full stop unless it already ends a sentence or a quotation.
fn sentence(mut text: String) -> String {
    if !text.ends_with(['.', '!', '?', '\u{201d}']) {
        text.push('.');
    }
    text
}

/// A Unix time as "3 March 2025, 14:05 UTC".
pub fn format_time(unix: i64) -> String {
    let format = time::macros::format_description!(
        "[day padding:none] [month repr:long] [year], [hour]:[minute] UTC"
    );
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| format!("{unix} (Unix time)"))
}

impl Verdict {
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Success { .. })
    }

    /// A stable name for the JSON endpoint and for templates.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Success { .. } => "success",
            Self::StillAcceptedAfterRevocation { .. } => "still_accepted_after_revocation",
            Self::StillAcceptedAfterExpiry { .. } => "still_accepted_after_expiry",
            Self::WrongPassword => "wrong_password",
            Self::AppPasswordRevoked { .. } => "app_password_revoked",
            Self::AppPasswordExpired { .. } => "app_password_expired",
            Self::AppPasswordNetworkLimited => "app_password_network_limited",
            Self::MainPasswordRefused => "main_password_refused",
            Self::NotThisAccountsPassword => "not_this_accounts_password",
            Self::AppPasswordTypo => "app_password_typo",
            Self::MainPasswordRefusedAlthoughAllowed => "main_password_refused_although_allowed",
            Self::NoPasswordMechanism { .. } => "no_password_mechanism",
            Self::LoginDisabledBeforeTls => "login_disabled_before_tls",
            Self::StartTlsNotOffered => "starttls_not_offered",
            Self::CertificateSelfSigned => "certificate_self_signed",
            Self::CertificateExpired { .. } => "certificate_expired",
            Self::CertificateWrongHost { .. } => "certificate_wrong_host",
            Self::CertificateUntrusted { .. } => "certificate_untrusted",
            Self::CertificateNotYetValid { .. } => "certificate_not_yet_valid",
            Self::TlsClosedByServer => "tls_closed_by_server",
            Self::GreetingCutOff => "greeting_cut_off",
            Self::Server(reason) => reason.kind(),
            Self::TlsToPlaintextPort => "tls_to_plaintext_port",
            Self::PlaintextToTlsPort => "plaintext_to_tls_port",
            Self::TlsFailed { .. } => "tls_failed",
            Self::NotImap { .. } => "not_imap",
            Self::ConnectionRefused => "connection_refused",
            Self::Unreachable { .. } => "unreachable",
            Self::ClosedByServer { .. } => "closed_by_server",
            Self::Timeout { .. } => "timeout",
            Self::HostNotFound => "host_not_found",
            Self::TemporaryFailure { .. } => "temporary_failure",
            Self::ServerError { .. } => "server_error",
            Self::PasswordNotSendable => "password_not_sendable",
            Self::Misconfigured { .. } => "misconfigured",
        }
    }

    /// What happened, in one plain sentence.
    pub fn title(&self) -> String {
        match self {
            Self::Success { messages } => match messages {
                1 => "It works: signed in and found 1 message in the inbox.".into(),
                n => format!("It works: signed in and found {n} messages in the inbox."),
            },
            Self::StillAcceptedAfterRevocation { at } => format!(
                "The mail server still accepts this app password, although it was revoked on {}.",
                format_time(*at)
            ),
            Self::StillAcceptedAfterExpiry { at } => format!(
                "The mail server still accepts this app password, although it expired on {}.",
                format_time(*at)
            ),
            Self::WrongPassword => "The server did not accept the user name or password.".into(),
            Self::AppPasswordRevoked { at } => format!(
                "This app password was revoked on {}, so it no longer works.",
                format_time(*at)
            ),
            Self::AppPasswordExpired { at } => format!(
                "This app password expired on {}, so it no longer works.",
                format_time(*at)
            ),
            Self::AppPasswordNetworkLimited => {
                "The server refused this app password; it only works from certain networks.".into()
            }
            Self::MainPasswordRefused => {
                "Your account's main password cannot be used for mail; it needs an app password."
                    .into()
            }
            Self::NotThisAccountsPassword => "The server refused the password, and Mailkeys \
                 checked: it is neither one of your app passwords nor your main password."
                .into(),
            Self::AppPasswordTypo => "The server refused the password, and Mailkeys checked: \
                 it is not exactly one of your app passwords, but looks like one with a typo."
                .into(),
            Self::MainPasswordRefusedAlthoughAllowed => "The server refused the password, \
                 although Mailkeys checked that it is your main password and that your account \
                 may use it for mail."
                .into(),
            Self::NoPasswordMechanism { offered } => {
                if offered.is_empty() {
                    "The server does not accept passwords for signing in.".into()
                } else {
                    format!(
                        "The server does not accept passwords for signing in; it only offers {}.",
                        offered.join(", ")
                    )
                }
            }
            Self::LoginDisabledBeforeTls => {
                "The server refuses passwords until the connection is encrypted.".into()
            }
            Self::StartTlsNotOffered => {
                "The server does not offer to switch to encryption (STARTTLS).".into()
            }
            Self::CertificateSelfSigned => {
                "The server's certificate is self-signed, so it cannot be trusted.".into()
            }
            Self::CertificateExpired { not_after } => match not_after {
                Some(t) => format!("The server's certificate expired on {}.", format_time(*t)),
                None => "The server's certificate (or one in its chain) has expired.".into(),
            },
            Self::CertificateWrongHost { host, .. } => {
                format!("The server's certificate is not made out for {host}.")
            }
            Self::CertificateUntrusted { reason } => {
                format!("The server's certificate cannot be trusted: {reason}.")
            }
            Self::CertificateNotYetValid { not_before } => match not_before {
                Some(t) => format!(
                    "The server's certificate is not valid yet: it only becomes valid on {}.",
                    format_time(*t)
                ),
                None => "The server's certificate is not valid yet.".into(),
            },
            Self::TlsClosedByServer => {
                "The server hung up while setting up encryption with Mailkeys.".into()
            }
            Self::GreetingCutOff => {
                "The server started to say hello, then hung up before finishing.".into()
            }
            Self::Server(reason) => reason.title(),
            Self::TlsToPlaintextPort => {
                "This port expects plain IMAP, but the check started with encryption (TLS).".into()
            }
            Self::PlaintextToTlsPort => {
                "This port expects encryption (TLS) from the start, but the check spoke plain IMAP."
                    .into()
            }
            Self::TlsFailed { detail } => {
                format!("Setting up encryption with the server failed ({detail}).")
            }
            Self::NotImap { .. } => "Something answers on this port, but it is not IMAP.".into(),
            Self::ConnectionRefused => "The server refused the connection on this port.".into(),
            Self::Unreachable { detail } => {
                format!("The server cannot be reached from Mailkeys ({detail}).")
            }
            Self::ClosedByServer { step } => {
                format!("The server hung up while {}.", step.while_doing())
            }
            Self::Timeout { step } => {
                format!(
                    "The server did not answer in time while {}.",
                    step.while_doing()
                )
            }
            Self::HostNotFound => "The server's name does not exist in DNS.".into(),
            Self::TemporaryFailure { reason } => {
                sentence(format!("The server is temporarily unavailable. {reason}"))
            }
            Self::ServerError { detail } => {
                sentence(format!("The server reported a problem. {detail}"))
            }
            Self::PasswordNotSendable => {
                "The password contains a character that cannot be sent to a mail server.".into()
            }
            Self::Misconfigured { detail } => sentence(format!(
                "This mail server entry is set up wrongly in Mailkeys: {detail}"
            )),
        }
    }

    /// What to do next, in plain words.
    pub fn advice(&self) -> String {
        let admin = "If you are not the administrator, pass this message on to them.";
        match self {
            Self::Success { .. } => {
                "Use the same server, user name and password in your mail app.".into()
            }
            Self::StillAcceptedAfterRevocation { .. } | Self::StillAcceptedAfterExpiry { .. } => {
                format!(
                    "The mail server is probably still using a cached copy of the password \
                     (Dovecot's auth_cache_ttl). It should stop working when the cache entry \
                     expires; to end it now, flush the cache (`doveadm auth cache flush`). {admin}"
                )
            }
            Self::WrongPassword => "Check that Caps Lock is off and that the user name is \
                 exactly right. If you pasted an app password, paste it again in full, dashes \
                 included. Mail apps need an app password, not the password you use on the web. \
                 If the password was changed or rotated recently, use the new one."
                .into(),
            Self::AppPasswordRevoked { .. } => {
                "Create a new app password on the dashboard and put it in your mail app.".into()
            }
            Self::AppPasswordExpired { .. } => "Create a new app password on the dashboard \
                 (choose a longer lifetime if you like) and put it in your mail app."
                .into(),
            Self::AppPasswordNetworkLimited => "The check runs from the Mailkeys server, which \
                 may be outside the networks this app password allows. Test from the device \
                 itself, or widen the allowed networks."
                .into(),
            Self::MainPasswordRefused => "Create an app password on the dashboard and use it \
                 in your mail app instead of your main password."
                .into(),
            Self::NotThisAccountsPassword => "So the password itself is what is wrong: \
                 your account has no such password. Copy your app password again from where you \
                 kept it, in full with its dashes, or create a new one on the dashboard \
                 (Mailkeys shows each app password only once) and put it in your mail app. If \
                 you typed it, check that Caps Lock is off."
                .into(),
            Self::AppPasswordTypo => "Its first group or its dashes are one slip away from an \
                 app password of yours that is active. Paste the app password again in full, \
                 dashes included, rather than typing it. If you no longer have it, create a new \
                 one on the dashboard."
                .into(),
            Self::MainPasswordRefusedAlthoughAllowed => format!(
                "The password is right, so the refusal has another cause: most likely the \
                 mail server does not read Mailkeys' database yet, or still uses an answer it \
                 cached before the setting changed. Wait a minute and try again. If it \
                 persists, an administrator should open the Dovecot status page \
                 (/admin/dovecot) and run its self-check. {admin}"
            ),
            Self::NoPasswordMechanism { .. } => format!(
                "Mailkeys app passwords need a server that accepts passwords (LOGIN, or \
                 AUTHENTICATE PLAIN or LOGIN). Enable password authentication on the server, or pick \
                 the right server in Mailkeys' configuration. {admin}"
            ),
            Self::LoginDisabledBeforeTls => format!(
                "Set this server's `tls` to \"starttls\" (port 143) or \"implicit\" (port 993) \
                 in Mailkeys' configuration, and in mail apps use encryption. {admin}"
            ),
            Self::StartTlsNotOffered => format!(
                "Check the port: 993 usually wants `tls = \"implicit\"`. If this really is \
                 port 143, enable TLS on the server: without it, passwords would travel \
                 unencrypted. {admin}"
            ),
            Self::CertificateSelfSigned => format!(
                "Install a certificate from a public authority (for example Let's Encrypt) on \
                 the mail server. If a self-signed certificate is intended, give its file to \
                 Mailkeys as this server's `ca_file`; mail apps must then be told to trust \
                 it too. {admin}"
            ),
            Self::CertificateExpired { .. } => format!(
                "Renew the certificate on the mail server and reload it (and check that \
                 automatic renewal works). Also check this machine's clock. {admin}"
            ),
            Self::CertificateWrongHost { names, .. } => {
                let valid = if names.is_empty() {
                    String::new()
                } else {
                    format!(" It is valid for: {}.", names.join(", "))
                };
                format!(
                    "Use the host name the certificate was issued for in Mailkeys' \
                     configuration and in mail apps, or get a certificate that includes this \
                     name.{valid} {admin}"
                )
            }
            Self::CertificateUntrusted { .. } => format!(
                "Install the full certificate chain on the mail server, or, for a private \
                 authority, give its certificate to Mailkeys as this server's `ca_file`. \
                 {admin}"
            ),
            Self::CertificateNotYetValid { .. } => format!(
                "A clock is wrong: check the date and time of the Mailkeys server (and of \
                 your device), and the mail server's clock when its certificate was made. A \
                 certificate issued just now may also need a few minutes. {admin}"
            ),
            Self::TlsClosedByServer => format!(
                "The server may not accept Mailkeys' TLS versions or ciphers, may expect a \
                 different server name, or may be refusing Mailkeys' address. Look at the \
                 mail server's log at the time of this check. {admin}"
            ),
            Self::GreetingCutOff => format!(
                "The server may be overloaded or limiting connections from Mailkeys' \
                 address. Try again in a minute; if it persists, look at the mail server's log. \
                 {admin}"
            ),
            Self::Server(reason) => reason.advice(admin),
            Self::TlsToPlaintextPort => format!(
                "Set this server's `tls` to \"starttls\" if the port is 143, or use port 993 \
                 with \"implicit\". {admin}"
            ),
            Self::PlaintextToTlsPort => {
                format!("Set this server's `tls` to \"implicit\" (usual on port 993). {admin}")
            }
            Self::TlsFailed { .. } => format!(
                "The server may only offer old TLS versions or ciphers. Look at the mail \
                 server's log at the time of this check. {admin}"
            ),
            Self::NotImap { .. } => format!(
                "Check the host and port in Mailkeys' configuration: IMAP is usually on 993 \
                 (TLS) or 143. {admin}"
            ),
            Self::ConnectionRefused => format!(
                "Nothing listens on this port. Check that the mail server is running and the \
                 port is right (usually 993 or 143). {admin}"
            ),
            Self::Unreachable { .. } => format!(
                "Check the network between Mailkeys and the mail server (routes, firewalls, \
                 IPv6). {admin}"
            ),
            Self::ClosedByServer { .. } => format!(
                "The server may be refusing Mailkeys' address (a ban by fail2ban, a firewall, \
                 or a limit on connections). Look at the mail server's log at the time of \
                 this check. {admin}"
            ),
            Self::Timeout { step } => match step {
                Step::Resolve => "The name servers are slow or unreachable. Try again in a \
                     minute."
                    .into(),
                Step::Connect | Step::TlsHandshake | Step::TlsProbe => format!(
                    "A firewall may be silently dropping the connection, or the server is \
                     overloaded. Check the host, the port and firewalls. {admin}"
                ),
                Step::Greeting => format!(
                    "Something accepted the connection but never greeted. The server may be \
                     overloaded, or the port may expect encryption from the start. {admin}"
                ),
                Step::Login => "The server took too long to check the password. Mail servers \
                     slow down sign-ins from an address after recent failures, and these tests \
                     all come from Mailkeys' address: try again in a minute. If it persists, \
                     the server's password database may be slow or unreachable."
                    .into(),
                _ => "The server is slow right now. Try again in a minute.".into(),
            },
            Self::HostNotFound => format!(
                "Check the spelling of the server's host name in Mailkeys' configuration, and \
                 that its DNS records exist. {admin}"
            ),
            Self::TemporaryFailure { .. } => "Try again in a few minutes. If it persists, the \
                 mail server's administrator should look at its log."
                .into(),
            Self::ServerError { .. } => {
                format!("Look at the mail server's log at the time of this check. {admin}")
            }
            Self::PasswordNotSendable => {
                "Type the password again; it seems to contain an invisible control character."
                    .into()
            }
            Self::Misconfigured { .. } => {
                format!("Fix the entry in Mailkeys' configuration and restart it. {admin}")
            }
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.title())
    }
}

/// Serialises as `{kind, success, title, advice}`: what a page or a JSON client shows.
impl Serialize for Verdict {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Verdict", 4)?;
        s.serialize_field("kind", self.kind())?;
        s.serialize_field("success", &self.is_success())?;
        s.serialize_field("title", &self.title())?;
        s.serialize_field("advice", &self.advice())?;
        s.end()
    }
}
