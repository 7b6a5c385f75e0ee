//! `Username`: an email address, the login name for the web and for IMAP.

use std::fmt;

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("Enter an email address such as alice@example.org (at most 254 characters).")]
pub struct InvalidUsername;

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
    /// Trims, lower-cases (usernames are unique case-insensitively) and checks the form.
    pub fn parse(input: &str) -> Result<Self, InvalidUsername> {
        let email = input.trim().to_ascii_lowercase();
        if email.is_empty() || email.len() > 254 {
            return Err(InvalidUsername);
        }
        let (local, domain) = email.split_once('@').ok_or(InvalidUsername)?;
        let local_ok = !local.is_empty() && local.len() <= 64 && local.chars().all(is_local_char);
        let domain_ok = !domain.is_empty()
            && domain.chars().all(is_domain_char)
            && !domain.starts_with(['.', '-'])
            && !domain.ends_with(['.', '-'])
            && !domain.contains("..");
        if local_ok && domain_ok {
            Ok(Self(email))
        } else {
            Err(InvalidUsername)
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

/// Words an attacker would try first against this account's password.
pub fn email_words(email: &Username) -> Vec<&str> {
    let mut words = vec![email.as_str()];
    words.extend(
        email
            .as_str()
            .split(['@', '.', '_', '-', '+'])
            .filter(|w| w.len() > 2),
    );
    words
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
            assert_eq!(Username::parse(bad), Err(InvalidUsername), "{bad}");
        }
    }

    #[test]
    fn a_missing_at_sign_is_refused() {
        assert_eq!(Username::parse("alice"), Err(InvalidUsername));
    }

    #[test]
    fn whitespace_and_control_characters_are_refused() {
        for bad in [
            "al ice@example.org",
            "alice@exa\r\nmple.org",
            "a\0@b.c",
            "a\"b@c.d",
        ] {
            assert_eq!(Username::parse(bad), Err(InvalidUsername), "{bad:?}");
        }
    }

    #[test]
    fn doveadm_wildcards_are_refused() {
        assert_eq!(Username::parse("*@example.org"), Err(InvalidUsername));
        assert_eq!(Username::parse("a?c@example.org"), Err(InvalidUsername));
    }

    #[test]
    fn an_over_long_address_is_refused() {
        let long = format!("{}@example.org", "a".repeat(250));
        assert_eq!(Username::parse(&long), Err(InvalidUsername));
    }

    #[test]
    fn a_domain_with_a_leading_dot_is_refused() {
        assert_eq!(Username::parse("a@.example.org"), Err(InvalidUsername));
    }
}
