//! `Username`: an email address, the login name for the web and for IMAP.

use std::fmt;

use super::text::{BadText, Text};

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidUsername {
    #[error("Enter an email address such as alice@example.org (at most 254 characters).")]
    Form,
    /// A NUL byte or another control character (see [`Text`]).
    #[error(transparent)]
    Text(#[from] BadText),
}

/// The characters the shipped Dovecot configuration accepts in a username
/// (`auth_username_chars`): letters, digits, `.`, `-`, `_`, `+` and `'` (O'Brien). Anything
/// else could never log in over IMAP, and leaving out `*` and `?` keeps doveadm's kick mask
/// exact and `%` keeps Dovecot's variables out of reach.
fn is_local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || ".-_+'".contains(c)
}

fn is_domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '.'
}

impl Username {
    /// Normalises ([`Text`]), trims, lower-cases (usernames are unique case-insensitively)
    /// and checks the form.
    pub fn parse(input: &str) -> Result<Self, InvalidUsername> {
        let email = Text::parse(input, "The email address")?
            .as_str()
            .trim()
            .to_ascii_lowercase();
        if email.is_empty() || email.len() > 254 {
            return Err(InvalidUsername::Form);
        }
        let (local, domain) = email.split_once('@').ok_or(InvalidUsername::Form)?;
        let local_ok = !local.is_empty() && local.len() <= 64 && local.chars().all(is_local_char);
        let domain_ok = !domain.is_empty()
            && domain.chars().all(is_domain_char)
            && !domain.starts_with(['.', '-'])
            && !domain.ends_with(['.', '-'])
            && !domain.contains("..");
        if local_ok && domain_ok {
            Ok(Self(email))
        } else {
            Err(InvalidUsername::Form)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ordinary_address_is_accepted_and_lower_cased() {
        assert_eq!(
            Username::parse(" Alice@Example.ORG ").unwrap().as_str(),
            "alice@example.org"
        );
    }

    #[test]
    fn an_apostrophe_and_a_plus_in_the_local_part_are_accepted() {
        assert!(Username::parse("o'brien+mail@example.org").is_ok());
    }

    #[test]
    fn characters_dovecot_would_refuse_are_refused() {
        for bad in [
            "a%b@example.org",
            "a!b@example.org",
            "a/b@example.org",
            "a{b}@example.org",
        ] {
            assert_eq!(Username::parse(bad), Err(InvalidUsername::Form), "{bad}");
        }
    }

    #[test]
    fn a_missing_at_sign_is_refused() {
        assert_eq!(Username::parse("alice"), Err(InvalidUsername::Form));
    }

    #[test]
    fn whitespace_and_control_characters_are_refused() {
        for bad in [
            "al ice@example.org",
            "a\"b@c.d",
            "al\u{200B}ice@example.org",
        ] {
            assert_eq!(Username::parse(bad), Err(InvalidUsername::Form), "{bad:?}");
        }
        for bad in ["alice@exa\r\nmple.org", "a\0@b.c", "alice@example.org\n"] {
            assert_eq!(
                Username::parse(bad),
                Err(InvalidUsername::Text(BadText::Control("The email address"))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn doveadm_wildcards_are_refused() {
        assert_eq!(Username::parse("*@example.org"), Err(InvalidUsername::Form));
        assert_eq!(
            Username::parse("a?c@example.org"),
            Err(InvalidUsername::Form)
        );
    }

    #[test]
    fn an_over_long_address_is_refused() {
        let long = format!("{}@example.org", "a".repeat(250));
        assert_eq!(Username::parse(&long), Err(InvalidUsername::Form));
    }

    #[test]
    fn a_domain_with_a_leading_dot_is_refused() {
        assert_eq!(
            Username::parse("a@.example.org"),
            Err(InvalidUsername::Form)
        );
    }
}
