//! Rules for a human-chosen main password (NIST SP 800-63B style): a minimum and maximum
//! length, no composition rules, and a refusal of guessable passwords judged by zxcvbn
//! (dictionary words, names, keyboard patterns, dates, and the user's own address).

use secrecy::{ExposeSecret, SecretString};

pub const MAX_CHARS: usize = 1024;
/// zxcvbn's cost grows with length; the first 100 characters decide guessability well
/// enough, and a longer password of real variety is strong anyway.
const ZXCVBN_WINDOW: usize = 100;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Rejected {
    #[error("Use at least {0} characters.")]
    TooShort(usize),
    #[error("Use at most 1024 characters.")]
    TooLong,
    #[error("The new password must differ from the current one.")]
    SameAsCurrent,
    #[error("This password is too common or easy to guess. Try a few unrelated words together.")]
    Guessable,
}

/// Checks a new main password; `context` lists words an attacker would try first (the
/// email address and its parts).
pub fn check_new_password(
    password: &SecretString,
    min_chars: usize,
    context: &[&str],
) -> Result<(), Rejected> {
    let text = password.expose_secret();
    let chars = text.chars().count();
    if chars < min_chars {
        return Err(Rejected::TooShort(min_chars));
    }
    if chars > MAX_CHARS {
        return Err(Rejected::TooLong);
    }
    let window: String = text.chars().take(ZXCVBN_WINDOW).collect();
    let estimate = zxcvbn::zxcvbn(&window, context);
    if (estimate.score() as u8) < 3 {
        return Err(Rejected::Guessable);
    }
    Ok(())
}

/// Quick length check used before any hashing, so oversize input costs nothing.
pub fn within_max_length(password: &SecretString) -> bool {
    password.expose_secret().chars().count() <= MAX_CHARS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(p: &str) -> Result<(), Rejected> {
        check_new_password(&SecretString::from(p), 12, &["alice", "example.org"])
    }

    #[test]
    fn a_long_unusual_passphrase_is_accepted() {
        assert_eq!(check("correct pony staple ledger 42"), Ok(()));
    }

    #[test]
    fn a_short_password_is_refused_with_the_minimum() {
        assert_eq!(check("Xy7$kq"), Err(Rejected::TooShort(12)));
    }

    #[test]
    fn a_common_password_is_refused_even_when_long_enough() {
        assert_eq!(check("password1234"), Err(Rejected::Guessable));
        assert_eq!(check("qwertyuiop123"), Err(Rejected::Guessable));
    }

    #[test]
    fn the_users_own_address_is_refused() {
        assert_eq!(check("alice@example.org"), Err(Rejected::Guessable));
    }

    #[test]
    fn more_than_1024_characters_are_refused() {
        let long = "ab1-".repeat(300);
        assert_eq!(check(&long), Err(Rejected::TooLong));
    }

    #[test]
    fn no_composition_rule_applies() {
        assert_eq!(check("tangerine otter umbrella"), Ok(()));
    }
}
