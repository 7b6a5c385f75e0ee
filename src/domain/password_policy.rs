//! Rules for a human-chosen main password (NIST SP 800-63B style), in the order they are
//! checked: no control characters, a minimum and maximum length, no composition rules, not
//! one of the passwords seen in breaches ([`super::breached_passwords`]), and a refusal of
//! guessable passwords judged by zxcvbn (dictionary words, names, keyboard patterns,
//! dates) with the user's own address, its local part, the words of both, and the
//! service's name as words an attacker tries first ([`user_inputs`]).

use secrecy::{ExposeSecret, SecretString};

use super::breached_passwords;
use super::username::Username;

pub const MAX_CHARS: usize = 1024;
/// zxcvbn's cost grows with length; the first 100 characters decide guessability well
/// enough, and a longer password of real variety is strong anyway.
const ZXCVBN_WINDOW: usize = 100;
/// The lowest zxcvbn score accepted (0 to 4; 3 is "safely unguessable", about 10^10 guesses).
pub const MIN_SCORE: u8 = 3;
/// The service's name, an obvious guess for a password chosen on its pages.
const SERVICE_NAME: &str = "mailkeys";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Rejected {
    #[error("A password cannot contain control characters (such as a NUL byte or a line break): mail apps cannot send them.")]
    ControlCharacter,
    #[error("Use at least {0} characters.")]
    TooShort(usize),
    #[error("Use at most 1024 characters.")]
    TooLong,
    #[error("The new password must differ from the current one.")]
    SameAsCurrent,
    #[error("This password is too common: it is in lists of passwords leaked in data breaches, which attackers try first. Choose another.")]
    Breached,
    #[error("This password is too common or easy to guess. Try a few unrelated words together.")]
    Guessable,
    #[error("This password is mostly your email address or its parts; without them it is easy to guess. Try a few unrelated words together.")]
    FromAddress,
}

/// Checks a new main password for the account `email`.
pub fn check_new_password(
    password: &SecretString,
    min_chars: usize,
    email: &Username,
) -> Result<(), Rejected> {
    let text = password.expose_secret();
    if text.chars().any(char::is_control) {
        return Err(Rejected::ControlCharacter);
    }
    let chars = text.chars().count();
    if chars < min_chars {
        return Err(Rejected::TooShort(min_chars));
    }
    if chars > MAX_CHARS {
        return Err(Rejected::TooLong);
    }
    if breached_passwords::contains(text) {
        return Err(Rejected::Breached);
    }
    let inputs = user_inputs(email);
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let window: String = text.chars().take(ZXCVBN_WINDOW).collect();
    let estimate = zxcvbn::zxcvbn(&window, &inputs);
    if (estimate.score() as u8) < MIN_SCORE {
        return Err(Rejected::Guessable);
    }
    // zxcvbn charges for every extra piece of a password, so "alice2024alice" for
    // alice@example.org passes it (score 3, 10^8.003 guesses). The user's own words are
    // worth nothing to an attacker: what is left without them must pass on its own.
    let rest = without_words(&window, &inputs);
    if (zxcvbn::zxcvbn(&rest, &inputs).score() as u8) < MIN_SCORE {
        return Err(Rejected::FromAddress);
    }
    Ok(())
}

/// `password`, lower-cased, with every occurrence of each word of three characters or more
/// removed, longest words first.
fn without_words(password: &str, words: &[&str]) -> String {
    let mut words: Vec<String> = words
        .iter()
        .filter(|w| w.chars().count() >= 3)
        .map(|w| w.to_lowercase())
        .collect();
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    let mut rest = password.to_lowercase();
    for word in &words {
        rest = rest.replace(word.as_str(), "");
    }
    rest
}

/// Words an attacker would try first against this account's password, given to zxcvbn as
/// its "user inputs": the address, its local part, the local part's and the domain's words
/// (split at `.`, `-`, `_`, `+` and `'`; single characters dropped), the domain, and
/// "mailkeys". For alice.smith@mail.example.org: alice.smith@mail.example.org, alice.smith,
/// alice, smith, mail.example.org, mail, example, org, mailkeys.
pub fn user_inputs(email: &Username) -> Vec<String> {
    let address = email.as_str();
    let (local, domain) = address.split_once('@').unwrap_or((address, ""));
    let mut words = vec![address.to_owned(), local.to_owned()];
    let split = |part: &str| -> Vec<String> {
        part.split(['.', '-', '_', '+', '\''])
            .filter(|w| w.chars().count() > 1)
            .map(str::to_owned)
            .collect()
    };
    words.extend(split(local));
    words.push(domain.to_owned());
    words.extend(split(domain));
    words.push(SERVICE_NAME.to_owned());
    words.retain(|w| !w.is_empty());
    words.dedup();
    words
}

/// Quick length check used before any hashing, so oversize input costs nothing.
pub fn within_max_length(password: &SecretString) -> bool {
    password.expose_secret().chars().count() <= MAX_CHARS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(p: &str) -> Result<(), Rejected> {
        let alice = Username::parse("alice@example.org").unwrap();
        check_new_password(&SecretString::from(p), 12, &alice)
    }

    #[test]
    fn a_password_built_from_the_users_address_is_refused() {
        for built in [
            "alice2024alice",
            "Alice2024Alice!",
            "alice@example.org",
            "example.org.alice",
            "aliceexample2024",
            "mailkeys2024alice",
        ] {
            let refused = check(built);
            assert!(
                matches!(refused, Err(Rejected::Guessable | Rejected::FromAddress)),
                "{built}: {refused:?}"
            );
        }
        // zxcvbn alone gives it a 3: the rule on what is left decides.
        assert_eq!(check("alice2024alice"), Err(Rejected::FromAddress));
    }

    #[test]
    fn the_users_words_next_to_strong_ones_are_fine() {
        assert_eq!(check("alice tangerine otter umbrella"), Ok(()));
    }

    #[test]
    fn the_user_inputs_are_the_address_its_parts_and_the_service() {
        let email = Username::parse("alice.smith@mail.example.org").unwrap();
        assert_eq!(
            user_inputs(&email),
            [
                "alice.smith@mail.example.org",
                "alice.smith",
                "alice",
                "smith",
                "mail.example.org",
                "mail",
                "example",
                "org",
                "mailkeys"
            ]
        );
    }

    #[test]
    fn a_breached_password_is_refused_even_when_zxcvbn_likes_it() {
        // In the list, yet judged safe by zxcvbn on its own.
        let listed = "Meinnameisttribun420";
        assert!(zxcvbn::zxcvbn(listed, &[]).score() as u8 >= MIN_SCORE);
        assert_eq!(check(listed), Err(Rejected::Breached));
    }

    #[test]
    fn control_characters_are_refused_before_anything_else() {
        for bad in ["correct pony\0staple 42", "correct pony staple\n42", "\0"] {
            assert_eq!(check(bad), Err(Rejected::ControlCharacter), "{bad:?}");
        }
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
        // Both in the breach list, which is checked first …
        assert_eq!(check("password1234"), Err(Rejected::Breached));
        assert_eq!(check("qwertyuiop123"), Err(Rejected::Breached));
        // … and zxcvbn refuses what the list lacks.
        assert_eq!(check("password password 1"), Err(Rejected::Guessable));
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
