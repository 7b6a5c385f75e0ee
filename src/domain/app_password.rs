//! App passwords: their names, lookup ids, scopes, expiry choices and generation.
//!
//! An app password reads `k3mfpa-x7bq2n-c9dhe4-rw5tju-8pazvy`: the first six symbols are
//! the lookup id (not secret; Dovecot's `%6w` selects the row by it), the other 24 are the
//! secret (120 bits from the OS generator). The dashes are part of the password, so what the
//! copy button copies is exactly what authenticates.

use std::fmt;
use std::net::IpAddr;

use secrecy::{ExposeSecret, SecretString};

use super::text::{BadText, Name, Text};

/// 32 symbols, so each carries exactly 5 bits and no modulo bias creeps in. Lower case only
/// (no Shift on a phone keyboard), without the look-alikes `l`, `o`, `0` and `1`.
pub const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
pub const LOOKUP_ID_LEN: usize = 6;
pub const SECRET_GROUPS: usize = 4;
pub const GROUP_LEN: usize = 6;
/// Bits of entropy in the secret part.
pub const SECRET_BITS: usize = SECRET_GROUPS * GROUP_LEN * 5;

/// A user-given label such as "Phone" or "Thunderbird at home".
#[derive(Clone, PartialEq, Eq)]
pub struct AppPasswordName(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidName {
    #[error("Give the app password a name, such as \"Phone\".")]
    Empty,
    #[error("A name can have at most 64 characters.")]
    TooLong,
    /// Controls, or invisible and format characters (direction marks among them), which
    /// make a name display as something it is not (see [`super::text::Name`]).
    #[error(transparent)]
    ForbiddenCharacter(#[from] BadText),
}

impl AppPasswordName {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(input: &str) -> Result<Self, InvalidName> {
        let name = Name::parse(input, "A name")?.into_string();
        if name.is_empty() {
            return Err(InvalidName::Empty);
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(InvalidName::TooLong);
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AppPasswordName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AppPasswordName({:?})", self.0)
    }
}

/// The non-secret first six symbols of an app password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookupId(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a lookup id")]
pub struct InvalidLookupId;

impl LookupId {
    pub fn parse(input: &str) -> Result<Self, InvalidLookupId> {
        if input.len() == LOOKUP_ID_LEN && input.bytes().all(|b| ALPHABET.contains(&b)) {
            Ok(Self(input.to_owned()))
        } else {
            Err(InvalidLookupId)
        }
    }

    /// The lookup id a typed password would select, if it has the form of one.
    pub fn of_typed_password(password: &SecretString) -> Option<Self> {
        let head = password.expose_secret().get(..LOOKUP_ID_LEN)?;
        Self::parse(head).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `password` has exactly the form of a generated app password: the lookup id and
/// the four secret groups, dash-separated, all in [`ALPHABET`].
pub fn has_app_password_form(password: &str) -> bool {
    let bytes = password.as_bytes();
    bytes.len() == LOOKUP_ID_LEN + SECRET_GROUPS * (GROUP_LEN + 1)
        && bytes.iter().enumerate().all(|(i, b)| {
            let dash_at = i >= LOOKUP_ID_LEN && (i - LOOKUP_ID_LEN) % (GROUP_LEN + 1) == 0;
            if dash_at {
                *b == b'-'
            } else {
                ALPHABET.contains(b)
            }
        })
}

/// Whether `password` looks like the app password whose lookup id is `lookup`, mistyped:
/// shaped like an app password (once surrounding spaces and all dashes are left out, as
/// many letters and digits as an app password has), its first six letters (case ignored)
/// at most one character away from `lookup`, and not the exact form of an app password
/// starting with `lookup` (that is a wrong secret, which no lookup can tell from a typo).
/// So one wrong character in the first group, Caps Lock, and a missing, extra or misplaced
/// dash are caught; a slip in the secret groups is not.
pub fn looks_like_mistyped(password: &SecretString, lookup: &str) -> bool {
    let typed = password.expose_secret();
    if has_app_password_form(typed) && typed.starts_with(lookup) {
        return false;
    }
    // A copy of the typed password: wiped when dropped, like the secret it comes from.
    let symbols: secrecy::zeroize::Zeroizing<Vec<u8>> = secrecy::zeroize::Zeroizing::new(
        typed
            .trim()
            .bytes()
            .filter(|b| *b != b'-')
            .map(|b| b.to_ascii_lowercase())
            .collect(),
    );
    if symbols.len() != LOOKUP_ID_LEN + SECRET_GROUPS * GROUP_LEN
        || !symbols.iter().all(u8::is_ascii_alphanumeric)
        || lookup.len() != LOOKUP_ID_LEN
    {
        return false;
    }
    let differences = symbols
        .iter()
        .zip(lookup.as_bytes())
        .filter(|(a, b)| a != b)
        .count();
    differences <= 1
}

/// A freshly generated app password. The plaintext lives only in this value, is shown once
/// and is then dropped; `Debug` never prints it.
pub struct GeneratedAppPassword {
    pub lookup_id: LookupId,
    pub plaintext: SecretString,
}

impl GeneratedAppPassword {
    /// The password made of a lookup id and the secret symbols, in groups:
    /// `lookup-ssssss-ssssss-ssssss-ssssss`. Pure: the randomness comes from the caller
    /// (`infra::random::new_app_password`).
    pub fn from_symbols(lookup: &str, secret: &str) -> Self {
        let mut plaintext = lookup.to_owned();
        for (i, symbol) in secret.chars().enumerate() {
            if i % GROUP_LEN == 0 {
                plaintext.push('-');
            }
            plaintext.push(symbol);
        }
        Self {
            lookup_id: LookupId(lookup.to_owned()),
            plaintext: SecretString::from(plaintext),
        }
    }
}

impl fmt::Debug for GeneratedAppPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GeneratedAppPassword({}-[REDACTED])", self.lookup_id.0)
    }
}

/// Where an app password stands at a given time. The one place the rule lives (the SQL
/// view `dovecot_app_passwords` states the same for Dovecot): revoked wins, then expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppPasswordStatus {
    Live,
    /// Expired at `at` (Unix seconds).
    Expired {
        at: i64,
    },
    /// Revoked at `at` (Unix seconds).
    Revoked {
        at: i64,
    },
}

impl AppPasswordStatus {
    pub fn of(revoked_at: Option<i64>, expires_at: Option<i64>, now: i64) -> Self {
        match (revoked_at, expires_at) {
            (Some(at), _) => Self::Revoked { at },
            (None, Some(at)) if at <= now => Self::Expired { at },
            _ => Self::Live,
        }
    }

    /// The word the pages show (and their CSS class).
    pub fn label(self) -> &'static str {
        match self {
            Self::Live => "active",
            Self::Expired { .. } => "expired",
            Self::Revoked { .. } => "revoked",
        }
    }

    pub fn is_live(self) -> bool {
        self == Self::Live
    }
}

/// Which mail services an app password opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Imap,
    ImapAndSmtp,
}

impl Scope {
    pub fn parse(input: &str) -> Option<Self> {
        match input {
            "imap" => Some(Self::Imap),
            "imap+smtp" => Some(Self::ImapAndSmtp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Imap => "imap",
            Self::ImapAndSmtp => "imap+smtp",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Imap => "Reading mail (IMAP)",
            Self::ImapAndSmtp => "Reading and sending mail (IMAP and SMTP)",
        }
    }
}

/// An optional allow-list of client networks, in Dovecot's `allow_nets` syntax.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedNets(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidNets {
    #[error(
        "List networks such as 192.0.2.0/24 or 2001:db8::/32, separated by commas (at most 16)."
    )]
    Form,
    #[error(transparent)]
    Text(#[from] BadText),
}

impl AllowedNets {
    /// `Ok(None)` for an empty field: no restriction.
    pub fn parse(input: &str) -> Result<Option<Self>, InvalidNets> {
        let input = Text::lines(input, "The network list")?;
        let parts: Vec<&str> = input
            .as_str()
            .split([',', ' ', '\n', '\r', '\t'])
            .filter(|p| !p.is_empty())
            .collect();
        if parts.is_empty() {
            return Ok(None);
        }
        if parts.len() > 16 {
            return Err(InvalidNets::Form);
        }
        let mut normalised = Vec::with_capacity(parts.len());
        for part in parts {
            let (addr, prefix) = match part.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (part, None),
            };
            let ip: IpAddr = addr.parse().map_err(|_| InvalidNets::Form)?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits: u8 = match prefix {
                Some(p) => p.parse().map_err(|_| InvalidNets::Form)?,
                None => max,
            };
            if bits > max {
                return Err(InvalidNets::Form);
            }
            normalised.push(format!("{ip}/{bits}"));
        }
        Ok(Some(Self(normalised.join(","))))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How long a new app password lives. A fixed list keeps the form usable without a date
/// picker and without time-zone surprises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpiryChoice {
    Never,
    Days(i64),
}

impl ExpiryChoice {
    pub const OPTIONS: [(&'static str, &'static str); 5] = [
        ("never", "Never"),
        ("7", "In 7 days"),
        ("30", "In 30 days"),
        ("90", "In 90 days"),
        ("365", "In a year"),
    ];

    pub fn parse(input: &str) -> Option<Self> {
        match input {
            "" | "never" => Some(Self::Never),
            "7" | "30" | "90" | "365" => input.parse().ok().map(Self::Days),
            _ => None,
        }
    }

    pub fn expires_at(self, now: i64) -> Option<i64> {
        match self {
            Self::Never => None,
            Self::Days(days) => Some(now + days * 86_400),
        }
    }
}

#[cfg(test)]
#[path = "app_password_tests.rs"]
mod tests;
