//! Unit tests of `app_password` (kept apart to keep that file short).

use super::*;

const REAL: &str = "k3mfpa-x7bq2n-c9dhe4-rw5tju-8pazvy";

fn mistyped(typed: &str) -> bool {
    looks_like_mistyped(&SecretString::from(typed.to_owned()), "k3mfpa")
}

#[test]
fn a_generated_app_password_has_the_form_and_slips_do_not() {
    let generated = GeneratedAppPassword::from_symbols("k3mfpa", &"a".repeat(24));
    assert!(has_app_password_form(generated.plaintext.expose_secret()));
    assert!(has_app_password_form(REAL));
    assert!(!has_app_password_form("k3mfpax7bq2n-c9dhe4-rw5tju-8pazvy"));
    assert!(!has_app_password_form("K3MFPA-X7BQ2N-C9DHE4-RW5TJU-8PAZVY"));
    assert!(!has_app_password_form("k3mfpa-x7bq2n-c9dhe4-rw5tju-8pazv"));
}

#[test]
fn one_slip_in_the_first_group_or_the_dashes_looks_mistyped() {
    for typed in [
        "k3mfpb-x7bq2n-c9dhe4-rw5tju-8pazvy",   // one wrong character
        "l3mfpa-x7bq2n-c9dhe4-rw5tju-8pazvy",   // a look-alike outside the alphabet
        "k3mfpax7bq2n-c9dhe4-rw5tju-8pazvy",    // a missing dash
        "k3mfpax7bq2nc9dhe4rw5tju8pazvy",       // no dashes at all
        "k3m-fpa-x7bq2n-c9dhe4-rw5tju-8pazvy",  // an extra dash
        "K3MFPA-X7BQ2N-C9DHE4-RW5TJU-8PAZVY",   // Caps Lock
        " k3mfpa-x7bq2n-c9dhe4-rw5tju-8pazvy ", // pasted with spaces
    ] {
        assert!(mistyped(typed), "{typed}");
    }
}

#[test]
fn other_passwords_do_not_look_mistyped() {
    for typed in [
        REAL,                                 // exact form: a wrong secret at worst
        "k3mfpa-aaaaaa-aaaaaa-aaaaaa-aaaaaa", // the right lookup id, a wrong secret
        "kxmfpb-x7bq2n-c9dhe4-rw5tju-8pazvy", // two wrong characters
        "k3mfpa-x7bq2n-c9dhe4-rw5tju-8pazv",  // a character missing
        "not-my-password-at-all",
        "correct horse battery staple",
        "",
    ] {
        assert!(!mistyped(typed), "{typed}");
    }
}

#[test]
fn a_plain_name_is_accepted_and_trimmed() {
    assert_eq!(
        AppPasswordName::parse("  Phone ").unwrap().as_str(),
        "Phone"
    );
}

#[test]
fn an_empty_name_is_refused() {
    assert_eq!(AppPasswordName::parse("   "), Err(InvalidName::Empty));
}

#[test]
fn a_name_of_64_characters_is_accepted_and_65_refused() {
    assert!(AppPasswordName::parse(&"é".repeat(64)).is_ok());
    assert_eq!(
        AppPasswordName::parse(&"a".repeat(65)),
        Err(InvalidName::TooLong)
    );
}

#[test]
fn control_characters_and_nul_are_refused() {
    for bad in ["a\0b", "a\r\nb", "tab\there"] {
        assert_eq!(
            AppPasswordName::parse(bad),
            Err(InvalidName::ForbiddenCharacter(BadText::Control("A name")))
        );
    }
}

#[test]
fn a_right_to_left_override_is_refused() {
    for bad in ["gpj.\u{202E}exe", "Ph\u{200B}one"] {
        assert_eq!(
            AppPasswordName::parse(bad),
            Err(InvalidName::ForbiddenCharacter(BadText::Invisible(
                "A name"
            )))
        );
    }
}

#[test]
fn quotes_percent_and_emoji_are_kept_as_typed() {
    let name = "Bob's 100% \"iPhone\" 📱";
    assert_eq!(AppPasswordName::parse(name).unwrap().as_str(), name);
}

#[test]
fn a_generated_password_starts_with_its_lookup_id_and_has_120_secret_bits() {
    let generated = crate::infra::random::new_app_password().unwrap();
    let text = generated.plaintext.expose_secret();
    assert!(text.starts_with(generated.lookup_id.as_str()));
    assert_eq!(text.len(), LOOKUP_ID_LEN + SECRET_GROUPS * (GROUP_LEN + 1));
    const { assert!(SECRET_BITS >= 100) };
    assert_eq!(
        LookupId::of_typed_password(&generated.plaintext),
        Some(generated.lookup_id.clone())
    );
}

#[test]
fn debug_output_of_a_generated_password_hides_the_secret() {
    let generated = crate::infra::random::new_app_password().unwrap();
    let debug = format!("{generated:?}");
    assert!(!debug.contains(&generated.plaintext.expose_secret()[7..]));
}

#[test]
fn a_lookup_id_outside_the_alphabet_is_refused() {
    assert!(LookupId::parse("abc0ef").is_err());
    assert!(LookupId::parse("abcde").is_err());
    assert!(LookupId::parse("abcdef").is_ok());
}

#[test]
fn a_short_typed_password_has_no_lookup_id() {
    assert_eq!(
        LookupId::of_typed_password(&SecretString::from("abc")),
        None
    );
}

#[test]
fn allowed_nets_are_normalised_and_an_empty_list_means_anywhere() {
    assert_eq!(AllowedNets::parse("  ").unwrap(), None);
    assert_eq!(
        AllowedNets::parse("192.0.2.0/24, 2001:db8::1")
            .unwrap()
            .unwrap()
            .as_str(),
        "192.0.2.0/24,2001:db8::1/128"
    );
    assert_eq!(AllowedNets::parse("10.0.0.0/33"), Err(InvalidNets::Form));
    assert_eq!(
        AllowedNets::parse("'; DROP TABLE users"),
        Err(InvalidNets::Form)
    );
}

#[test]
fn only_listed_expiry_choices_are_accepted() {
    assert_eq!(ExpiryChoice::parse("never"), Some(ExpiryChoice::Never));
    assert_eq!(ExpiryChoice::parse("30"), Some(ExpiryChoice::Days(30)));
    assert_eq!(ExpiryChoice::parse("31"), None);
    assert_eq!(ExpiryChoice::Days(1).expires_at(100), Some(86_500));
}

#[test]
fn revoked_wins_over_expired_and_expiry_is_inclusive() {
    assert_eq!(
        AppPasswordStatus::of(None, None, 100),
        AppPasswordStatus::Live
    );
    assert_eq!(
        AppPasswordStatus::of(None, Some(101), 100),
        AppPasswordStatus::Live
    );
    assert_eq!(
        AppPasswordStatus::of(None, Some(100), 100),
        AppPasswordStatus::Expired { at: 100 }
    );
    assert_eq!(
        AppPasswordStatus::of(Some(50), Some(10), 100),
        AppPasswordStatus::Revoked { at: 50 }
    );
    assert_eq!(AppPasswordStatus::Live.label(), "active");
}
