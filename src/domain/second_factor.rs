//! The second factor of web sign-in, without I/O: the stage a session is at, who must have
//! a second factor, and what a typed code is.

use serde::Deserialize;

/// How far a browser session has got. A `Pending` session had the right password and still
/// owes the second factor: it grants nothing but the second-factor page, and only for
/// [`PENDING_SECS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionStage {
    Pending,
    Full,
}

/// How long a session may wait for its second factor.
pub const PENDING_SECS: i64 = 5 * 60;

impl SessionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Full => "full",
        }
    }

    /// The stored text; anything unknown is the stage that grants nothing.
    pub fn from_stored(text: &str) -> Self {
        if text == "full" {
            Self::Full
        } else {
            Self::Pending
        }
    }
}

/// The `require_second_factor` setting: whose accounts must have a second factor before
/// they can do anything after signing in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequireSecondFactor {
    #[default]
    Nobody,
    Admins,
    Everyone,
}

impl RequireSecondFactor {
    pub fn applies_to(self, is_admin: bool) -> bool {
        match self {
            Self::Nobody => false,
            Self::Admins => is_admin,
            Self::Everyone => true,
        }
    }
}

/// Symbols of a recovery code (the app-password alphabet: no 0/o, 1/l look-alikes).
pub const RECOVERY_CODE_SYMBOLS: usize = 16;
/// How many recovery codes a set has.
pub const RECOVERY_CODES_PER_SET: usize = 10;

/// What was typed into the second-factor field: six digits are an authenticator code,
/// anything else is tried as a recovery code.
#[derive(Clone, PartialEq, Eq)]
pub enum TypedCode {
    Totp(String),
    /// Normalised: lower case, without dashes or spaces.
    Recovery(String),
}

impl TypedCode {
    pub fn parse(typed: &str) -> Option<Self> {
        let compact: String = typed
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect::<String>()
            .to_lowercase();
        if compact.len() == 6 && compact.bytes().all(|b| b.is_ascii_digit()) {
            Some(Self::Totp(compact))
        } else if compact.len() == RECOVERY_CODE_SYMBOLS
            && compact
                .bytes()
                .all(|b| super::app_password::ALPHABET.contains(&b))
        {
            Some(Self::Recovery(compact))
        } else {
            None
        }
    }
}

/// A code is never printed, even by `{:?}`.
impl std::fmt::Debug for TypedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Totp(_) => f.write_str("Totp(..)"),
            Self::Recovery(_) => f.write_str("Recovery(..)"),
        }
    }
}

/// A recovery code as shown to the user: four dash-separated groups of four.
pub fn display_recovery_code(compact: &str) -> String {
    compact
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_digits_are_a_totp_code_and_sixteen_symbols_a_recovery_code() {
        assert_eq!(
            TypedCode::parse(" 123 456 "),
            Some(TypedCode::Totp("123456".into()))
        );
        assert_eq!(
            TypedCode::parse("ABCD-efgh-2345-6789"),
            Some(TypedCode::Recovery("abcdefgh23456789".into()))
        );
        assert_eq!(TypedCode::parse("12345"), None);
        assert_eq!(TypedCode::parse("abcd-efgh-2345-678l"), None);
        assert!(!format!("{:?}", TypedCode::parse("123456")).contains("123"));
    }

    #[test]
    fn recovery_codes_are_shown_in_groups() {
        assert_eq!(
            display_recovery_code("abcdefgh23456789"),
            "abcd-efgh-2345-6789"
        );
    }

    #[test]
    fn the_requirement_applies_to_whom_it_says() {
        assert!(!RequireSecondFactor::Nobody.applies_to(true));
        assert!(RequireSecondFactor::Admins.applies_to(true));
        assert!(!RequireSecondFactor::Admins.applies_to(false));
        assert!(RequireSecondFactor::Everyone.applies_to(false));
        assert_eq!(SessionStage::from_stored("odd"), SessionStage::Pending);
    }
}
