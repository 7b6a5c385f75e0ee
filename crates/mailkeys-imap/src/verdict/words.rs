//! Reading a server's words: its RFC 5530 response code, `[ALERT]` text and `BYE` reasons,
//! and the well-known texts of big providers, into one [`Said`]: what the server meant,
//! before anything is known of the password.

/// What a refusal or a `BYE` means, read from its response code and text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Said {
    /// Plainly about the credentials (AUTHENTICATIONFAILED, "invalid credentials", or a
    /// refusal with no code and no telling words).
    BadCredentials,
    /// The password may be wrong, or IMAP is switched off for the account: the server
    /// itself names both ("Invalid credentials or IMAP is disabled").
    CredentialsOrImapDisabled,
    /// The password may be wrong, or password sign-in (basic authentication) is switched
    /// off: Microsoft's bare "LOGIN failed." / "AUTHENTICATE failed.".
    CredentialsOrPasswordSignInOff,
    WebSignInRequired,
    ProviderAppPasswordRequired,
    PasswordSignInOff,
    ImapDisabled,
    TooManyConnections,
    Throttled,
    BandwidthLimit,
    AccountLocked,
    PasswordExpired,
    AccountDisabled,
    NotAuthorized,
    NoPermission,
    InUse,
    OverQuota,
    AuthenticatedNotConnected,
    AddressBlocked,
    MailAppBlocked,
    EncryptionRequired,
    Unavailable,
    /// An `[ALERT]` (or `WEBALERT`) whose words we do not recognise: the server wants a
    /// person to read it; it is not a plain password refusal.
    Alert,
    /// A code or text that says nothing we recognise.
    Unrecognised,
}

/// Any of these words, lower-cased, found in `text`.
fn any(text: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| text.contains(n))
}

/// Reads a response code (the bracketed word and its arguments) and the text after it.
pub(super) fn read(code: Option<&str>, text: &str) -> Said {
    let code_word = code
        .and_then(|c| c.split_whitespace().next())
        .map(str::to_ascii_uppercase);
    if microsoft_bare_refusal(text) {
        return Said::CredentialsOrPasswordSignInOff;
    }
    // Lower case, and underscores read as spaces: a reason in a passdb's extra fields
    // cannot hold spaces (Dovecot's passwd-file), so admins write "Password_expired".
    let t = text.to_lowercase().replace('_', " ");
    // A code that leaves no doubt comes first.
    if code_word.as_deref() == Some("PRIVACYREQUIRED") {
        return Said::EncryptionRequired;
    }
    // The words first: providers put their most telling reason in the text, under codes
    // as generic as ALERT, AUTHENTICATIONFAILED or UNAVAILABLE.
    if let Some(said) = read_text(&t) {
        return said;
    }
    match code_word.as_deref() {
        Some("AUTHENTICATIONFAILED") => Said::BadCredentials,
        Some("AUTHORIZATIONFAILED") => Said::NotAuthorized,
        Some("EXPIRED") => Said::PasswordExpired,
        Some("PRIVACYREQUIRED") => Said::EncryptionRequired,
        Some("CONTACTADMIN") => Said::AccountDisabled,
        Some("NOPERM") => Said::NoPermission,
        Some("INUSE") => Said::InUse,
        Some("LIMIT") => Said::TooManyConnections,
        Some("OVERQUOTA") => Said::OverQuota,
        Some("UNAVAILABLE" | "TEMPFAIL" | "SERVERBUG") => Said::Unavailable,
        Some("THROTTLED") => Said::Throttled,
        Some("ALERT" | "WEBALERT") => Said::Alert,
        None if t.trim().is_empty() || looks_like_plain_refusal(&t) => Said::BadCredentials,
        _ => Said::Unrecognised,
    }
}

/// A refusal that only says sign-in failed, in the words of common servers.
fn looks_like_plain_refusal(t: &str) -> bool {
    any(
        t,
        &[
            "authentication failed",
            "login failed",
            "invalid credentials",
            "incorrect",
            "invalid password",
            "bad password",
            "wrong password",
            "invalid login",
            "login incorrect",
            "authentication unsuccessful",
            "invalid user",
            "unknown user",
            "failure",
        ],
    )
}

fn read_text(t: &str) -> Option<Said> {
    let imap_off = any(
        t,
        &[
            "imap is disabled",
            "imap access is disabled",
            "imap access disabled",
            "imap disabled",
            "not enabled for imap",
            "enable imap",
            "imap is not enabled",
            "imap access is not enabled",
            "imap service is disabled",
            "imap4 is disabled",
            "imap not allowed",
            "imap access not allowed",
            "no imap access",
        ],
    );
    let credentials = any(
        t,
        &[
            "credentials",
            "password",
            "login failed",
            "authentication failed",
        ],
    );
    if imap_off && credentials && any(t, &[" or ", " and/or "]) {
        return Some(Said::CredentialsOrImapDisabled);
    }
    if imap_off {
        return Some(Said::ImapDisabled);
    }
    let said = if any(
        t,
        &[
            "application-specific password",
            "app-specific password",
            "app password",
            "application password",
        ],
    ) {
        Said::ProviderAppPasswordRequired
    } else if any(
        t,
        &[
            "web login required",
            "log in via your web browser",
            "login via your web browser",
            "sign in via your web browser",
            "log in to your account via a web browser",
            "web browser",
            "verify your account",
        ],
    ) {
        Said::WebSignInRequired
    } else if any(
        t,
        &[
            "basic authentication is disabled",
            "basic auth",
            "basicauthblocked",
            "oauth",
            "password authentication is disabled",
            "authentication method not allowed",
            "less secure app",
        ],
    ) {
        Said::PasswordSignInOff
    } else if any(
        t,
        &[
            "authenticated but not connected",
            "mailbox is not connected",
            "user is authenticated but",
        ],
    ) {
        Said::AuthenticatedNotConnected
    } else if any(t, &["bandwidth", "download limit", "exceeded command"]) {
        Said::BandwidthLimit
    } else if any(
        t,
        &[
            "too many simultaneous connections",
            "too many connections",
            "maximum number of connections",
            "connection limit",
            "too many concurrent",
            "simultaneous connections",
            "too many open connections",
            "too many sessions",
        ],
    ) {
        Said::TooManyConnections
    } else if any(
        t,
        &[
            "throttl",
            "rate limit",
            "too many login",
            "too many requests",
            "too many authentication",
            "too many failed",
            "slow down",
            "request is throttled",
            "server unavailable. 15",
        ],
    ) {
        Said::Throttled
    } else if any(
        t,
        &[
            "temporarily locked",
            "account is locked",
            "account locked",
            "account has been locked",
            "temporarily blocked",
            "temporarily disabled",
        ],
    ) {
        Said::AccountLocked
    } else if any(
        t,
        &[
            "password has expired",
            "password expired",
            "password is expired",
            "must change your password",
            "change your password",
        ],
    ) {
        Said::PasswordExpired
    } else if any(
        t,
        &[
            "account disabled",
            "account is disabled",
            "account has been disabled",
            "account suspended",
            "account is suspended",
            "account has been suspended",
            "account is inactive",
            "contact your administrator",
            "contact the administrator",
            "contact your system administrator",
            "account blocked",
            "account is blocked",
            "account has been blocked",
        ],
    ) {
        Said::AccountDisabled
    } else if any(
        t,
        &[
            "country blocked",
            "ip blocked",
            "ip address is blocked",
            "your ip",
            "not allowed from your",
            "access denied from",
            "blacklisted",
            "blocklisted",
            "connection from your address",
        ],
    ) {
        Said::AddressBlocked
    } else if any(
        t,
        &[
            "not authorized to",
            "permission denied",
            "insufficient permission",
            "adequate permissions",
        ],
    ) {
        Said::NoPermission
    } else if any(
        t,
        &["unsafe login", "untrusted client", "unrecognised client"],
    ) {
        Said::MailAppBlocked
    } else if any(t, &["over quota", "quota exceeded", "mailbox is full"]) {
        Said::OverQuota
    } else if any(
        t,
        &[
            "temporary authentication failure",
            "temporary system problem",
            "temporary failure",
            "temporarily unavailable",
            "server unavailable",
            "system error",
            "shutting down",
            "service unavailable",
            "internal error",
            "server error",
            "maintenance",
            "try again later",
        ],
    ) {
        Said::Unavailable
    } else if any(
        t,
        &[
            "encryption",
            "ssl/tls",
            "starttls",
            "requires tls",
            "plaintext",
        ],
    ) {
        Said::EncryptionRequired
    } else {
        return None;
    };
    Some(said)
}

/// Microsoft 365 and Exchange answer a wrong password and a switched-off password sign-in
/// with the same bare words, the command's name in capitals then "failed.": "LOGIN
/// failed." or "AUTHENTICATE failed." (Courier's "Login failed." is a plain refusal).
fn microsoft_bare_refusal(text: &str) -> bool {
    let bare = text.trim().trim_end_matches('.');
    matches!(bare, "LOGIN failed" | "AUTHENTICATE failed")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Texts known from providers' help pages and client code, read without a code.
    #[test]
    fn well_known_texts_are_read_for_what_they_say() {
        let cases = [
            ("Account is temporarily locked", Said::AccountLocked),
            ("Your password has expired", Said::PasswordExpired),
            ("Your_password_has_expired", Said::PasswordExpired),
            (
                "IMAP access is disabled for your domain.",
                Said::ImapDisabled,
            ),
            (
                "You are yet to enable IMAP for your account.",
                Said::ImapDisabled,
            ),
            (
                "Your account is not enabled for IMAP use. Please visit your Gmail settings \
                 page and enable your account for IMAP access. (Failure)",
                Said::ImapDisabled,
            ),
            ("Too many login attempts, try again later", Said::Throttled),
            (
                "Request is throttled. Suggested Backoff Time: 299961 milliseconds",
                Said::Throttled,
            ),
            (
                "Too many simultaneous connections. (Failure)",
                Said::TooManyConnections,
            ),
            ("LOGIN failed.", Said::CredentialsOrPasswordSignInOff),
            ("Login failed.", Said::BadCredentials),
            ("Authentication failed.", Said::BadCredentials),
            ("", Said::BadCredentials),
            ("Disconnected for inactivity.", Said::Unrecognised),
        ];
        for (text, said) in cases {
            assert_eq!(read(None, text), said, "{text:?}");
        }
    }

    #[test]
    fn codes_decide_when_the_words_say_nothing_we_know() {
        let cases = [
            ("AUTHENTICATIONFAILED", Said::BadCredentials),
            ("AUTHORIZATIONFAILED", Said::NotAuthorized),
            ("EXPIRED", Said::PasswordExpired),
            ("PRIVACYREQUIRED", Said::EncryptionRequired),
            ("CONTACTADMIN", Said::AccountDisabled),
            ("NOPERM", Said::NoPermission),
            ("INUSE", Said::InUse),
            ("LIMIT", Said::TooManyConnections),
            ("OVERQUOTA", Said::OverQuota),
            ("UNAVAILABLE", Said::Unavailable),
            ("ALERT", Said::Alert),
            ("ALREADYEXISTS", Said::Unrecognised),
        ];
        for (code, said) in cases {
            assert_eq!(read(Some(code), "Nothing telling here"), said, "{code}");
        }
        // A code that leaves no doubt wins over the words.
        assert_eq!(
            read(
                Some("PRIVACYREQUIRED"),
                "Plaintext authentication disallowed"
            ),
            Said::EncryptionRequired
        );
    }
}
