//! Verdicts drawn from the server's own words (its response code, `[ALERT]` text, `BYE`
//! reason): what each says, in plain words, and what to do. None of them tells the user to
//! retype a password unless the server's words point at the password.

/// A reason the server gave, other than a plain "wrong password".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerReason {
    /// The provider wants the account to sign in on its website first (Gmail's "Please log
    /// in via your web browser", "Web login required").
    WebSignInRequired,
    /// The provider wants one of its own app passwords, not the account's normal password.
    ProviderAppPasswordRequired,
    /// The provider has switched off sign-in with a password (basic authentication).
    PasswordSignInDisabled,
    /// IMAP is switched off for this account.
    ImapDisabled,
    /// The server's words name both: a wrong password, or IMAP switched off.
    PasswordOrImapDisabled,
    /// The server's words fit both: a wrong password, or password sign-in switched off.
    PasswordOrPasswordSignInDisabled,
    /// Too many connections to this account at once.
    TooManyConnections,
    /// Too many sign-ins or commands in a short time; `after_sign_in` when the password
    /// had already been accepted.
    Throttled { after_sign_in: bool },
    /// The account used up its download (bandwidth) allowance for now.
    BandwidthLimit,
    /// The account is locked for a while, usually after failed sign-ins.
    AccountLocked,
    /// The account's password has expired and must be changed.
    PasswordExpired,
    /// The account is disabled or suspended; only an administrator can help. `said` holds
    /// the server's words, when it gave any.
    AccountDisabled { said: String },
    /// Signed in, but this account may not use mail here (RFC 5530 AUTHORIZATIONFAILED).
    NotAuthorized,
    /// Signed in, but the server would not let this account open its inbox (NOPERM).
    InboxNotPermitted,
    /// The mailbox is in use by another session and cannot be opened now (INUSE).
    MailboxInUse,
    /// The mailbox is over its storage quota.
    MailboxOverQuota,
    /// Microsoft's "User is authenticated but not connected": the password was accepted,
    /// but no mailbox could be reached.
    AuthenticatedNotConnected,
    /// The provider turned the session away as an "unsafe login" from a mail app it does
    /// not recognise (163.com, 126.com).
    MailAppBlocked,
    /// The server turns away Mailkeys' address (a block list, a country block, a ban).
    AddressBlocked,
    /// The server refused with a message meant for a person (`[ALERT]`) whose words
    /// Mailkeys does not recognise.
    ServerMessage { text: String },
}

impl ServerReason {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::WebSignInRequired => "web_sign_in_required",
            Self::ProviderAppPasswordRequired => "provider_app_password_required",
            Self::PasswordSignInDisabled => "password_sign_in_disabled",
            Self::ImapDisabled => "imap_disabled",
            Self::PasswordOrImapDisabled => "password_or_imap_disabled",
            Self::PasswordOrPasswordSignInDisabled => "password_or_password_sign_in_disabled",
            Self::TooManyConnections => "too_many_connections",
            Self::Throttled {
                after_sign_in: false,
            } => "throttled",
            Self::Throttled {
                after_sign_in: true,
            } => "throttled_after_sign_in",
            Self::BandwidthLimit => "bandwidth_limit",
            Self::AccountLocked => "account_locked",
            Self::PasswordExpired => "password_expired",
            Self::AccountDisabled { .. } => "account_disabled",
            Self::NotAuthorized => "not_authorized",
            Self::InboxNotPermitted => "inbox_not_permitted",
            Self::MailboxInUse => "mailbox_in_use",
            Self::MailboxOverQuota => "mailbox_over_quota",
            Self::AuthenticatedNotConnected => "authenticated_but_not_connected",
            Self::MailAppBlocked => "mail_app_blocked",
            Self::AddressBlocked => "address_blocked",
            Self::ServerMessage { .. } => "server_message",
        }
    }

    pub fn title(&self) -> String {
        match self {
            Self::WebSignInRequired => "The mail provider wants this account to sign in on \
                 its website before a mail app may connect."
                .into(),
            Self::ProviderAppPasswordRequired => "The mail provider does not accept the \
                 account's normal password in mail apps; it wants an app password made in \
                 the provider's own account settings."
                .into(),
            Self::PasswordSignInDisabled => "The mail provider has switched off signing in \
                 with a password for mail apps."
                .into(),
            Self::ImapDisabled => "Mail app access (IMAP) is switched off for this account.".into(),
            Self::PasswordOrImapDisabled => "The server refused to sign in: either the \
                 password is wrong, or mail app access (IMAP) is switched off for this account \
                 (the server does not say which)."
                .into(),
            Self::PasswordOrPasswordSignInDisabled => "The server refused to sign in: either \
                 the password is wrong, or the provider has switched off signing in with a \
                 password (the server does not say which)."
                .into(),
            Self::TooManyConnections => "Too many mail apps or devices are connected to this \
                 account at the same time."
                .into(),
            Self::Throttled {
                after_sign_in: false,
            } => "The server is holding back sign-ins for now: too many attempts in a short \
                 time."
                .into(),
            Self::Throttled {
                after_sign_in: true,
            } => "The password was accepted, but the server is slowing this account down \
                 for now: too many requests in a short time."
                .into(),
            Self::BandwidthLimit => "The account has used up the amount of mail it may \
                 download for now."
                .into(),
            Self::AccountLocked => "The account is temporarily locked.".into(),
            Self::PasswordExpired => "The account's password has expired.".into(),
            Self::AccountDisabled { said } => {
                if said.is_empty() {
                    "The account is disabled on the mail server.".into()
                } else {
                    format!("The account is disabled on the mail server: \u{201c}{said}\u{201d}")
                }
            }
            Self::NotAuthorized => "The server checked the sign-in, but this account may not \
                 use mail apps here."
                .into(),
            Self::InboxNotPermitted => "Signing in worked, but the server does not let this \
                 account open its inbox."
                .into(),
            Self::MailboxInUse => "Signing in worked, but the mailbox is busy with another \
                 session."
                .into(),
            Self::MailboxOverQuota => "The mailbox is full (over its storage quota).".into(),
            Self::AuthenticatedNotConnected => "The password was accepted, but the server \
                 could not connect this account to its mailbox."
                .into(),
            Self::MailAppBlocked => "The mail provider blocked access as an \u{201c}unsafe \
                 login\u{201d} from a mail app it does not recognise."
                .into(),
            Self::AddressBlocked => "The mail server turns away connections from Mailkeys' \
                 address."
                .into(),
            Self::ServerMessage { text } => {
                format!("The server refused to sign in, with a message: \u{201c}{text}\u{201d}")
            }
        }
    }

    pub fn advice(&self, admin: &str) -> String {
        match self {
            Self::WebSignInRequired => "Sign in to the account on the provider's website in a \
                 browser, confirm any security question or warning it shows (such as \
                 \u{201c}was this you?\u{201d}), then try again. If the provider offers app \
                 passwords or OAuth sign-in, use those in mail apps."
                .into(),
            Self::ProviderAppPasswordRequired => "Create an app password in the mail \
                 provider's account security settings (this usually needs two-step \
                 verification turned on) and use it here and in mail apps instead of the \
                 account's normal password."
                .into(),
            Self::PasswordSignInDisabled => format!(
                "Mail apps must sign in with the provider's own sign-in page (OAuth), or with \
                 an app password if the provider offers them; the provider's administrator \
                 may also turn password sign-in back on. {admin}"
            ),
            Self::ImapDisabled => format!(
                "Turn on IMAP access in the mail account's settings (for example \
                 \u{201c}Forwarding and POP/IMAP\u{201d} or \u{201c}Mail apps\u{201d}), or ask \
                 the administrator to allow IMAP for this account, then try again. {admin}"
            ),
            Self::PasswordOrImapDisabled => "First check that IMAP access is turned on in the \
                 mail account's settings. If it is, the password is the likely cause: use an \
                 app password rather than the account's web password, pasted in full."
                .into(),
            Self::PasswordOrPasswordSignInDisabled => "Many providers (Microsoft 365 among \
                 them) have switched off password sign-in for mail apps and answer with these \
                 same words: then only OAuth sign-in or an app password works. If password \
                 sign-in is still allowed for this account, check the password: use an app \
                 password rather than the account's web password, pasted in full."
                .into(),
            Self::TooManyConnections => "Close mail apps on other devices (or wait for them to \
                 disconnect), wait a few minutes, and try again. The password was not the \
                 problem."
                .into(),
            Self::Throttled { .. } => "Wait a while (15 minutes to an hour) and try again; \
                 change nothing meanwhile. If a mail app keeps retrying in a loop, close it \
                 first."
                .into(),
            Self::BandwidthLimit => "Wait until the allowance renews (often within a day), \
                 and check that no mail app or backup tool is downloading the whole mailbox \
                 again and again."
                .into(),
            Self::AccountLocked => format!(
                "Wait for the lock to end (often 15 minutes to an hour) and try again, or \
                 unlock the account on the provider's website. Stop any mail app that keeps \
                 trying an old password, or the lock comes back. {admin}"
            ),
            Self::PasswordExpired => format!(
                "Change the account's password on the provider's website (or ask the \
                 administrator to reset it), then use the new password. {admin}"
            ),
            Self::AccountDisabled { .. } | Self::NotAuthorized => {
                format!("Only the mail server's administrator can enable this account. {admin}")
            }
            Self::InboxNotPermitted => format!(
                "The account's mail storage or its rights are set up wrongly on the server. \
                 {admin}"
            ),
            Self::MailboxInUse => "Another mail app holds the mailbox. Wait a minute and try \
                 again, or close the other mail apps."
                .into(),
            Self::MailboxOverQuota => "Delete some mail (and empty the trash) in webmail or \
                 another mail app, or ask for more space."
                .into(),
            Self::AuthenticatedNotConnected => format!(
                "Wait a few minutes and try again: Microsoft answers this way when it is \
                 slowing an account down. If it persists, the account may have no mailbox, \
                 no licence, or no IMAP access, or the user name may name another mailbox \
                 than the one signed in to. {admin}"
            ),
            Self::MailAppBlocked => "Sign in on the provider's website and turn on IMAP and \
                 access for mail apps in its settings, using the authorization code it gives \
                 for mail apps. Some providers only admit mail apps that identify themselves, \
                 which this check does not do: then test from the mail app itself."
                .into(),
            Self::AddressBlocked => format!(
                "The server's administrator should check its block lists and firewall (for \
                 example fail2ban, or a country block) for Mailkeys' address. {admin}"
            ),
            Self::ServerMessage { .. } => format!(
                "Do what the server's message asks; it is not a plain wrong-password answer. \
                 {admin}"
            ),
        }
    }
}
