//! Property tests for the parsers at the edge: whatever arrives, they never panic, and what
//! they accept keeps the promises the rest of the code relies on.

use proptest::prelude::*;

use super::app_password::{AllowedNets, AppPasswordName, LookupId};
use super::Username;

proptest! {
    #[test]
    fn a_username_parse_never_panics_and_an_accepted_one_is_stable(input in "\\PC{0,80}|[a-zA-Z0-9.'+_%*?@-]{0,40}") {
        if let Ok(name) = Username::parse(&input) {
            let again = Username::parse(name.as_str()).expect("an accepted username parses again");
            prop_assert_eq!(again.as_str(), name.as_str());
            prop_assert!(name.as_str().len() <= 254);
            prop_assert!(!name.as_str().contains(['*', '?', '%', '"', ' ', '\0', '\r', '\n']));
            prop_assert_eq!(name.as_str(), name.as_str().to_ascii_lowercase());
        }
    }

    #[test]
    fn an_accepted_app_password_name_has_no_controls_and_round_trips(input in any::<String>()) {
        if let Ok(name) = AppPasswordName::parse(&input) {
            prop_assert!(!name.as_str().is_empty());
            prop_assert!(name.as_str().chars().count() <= AppPasswordName::MAX_CHARS);
            prop_assert!(!name.as_str().chars().any(char::is_control));
            let again = AppPasswordName::parse(name.as_str()).expect("an accepted name parses again");
            prop_assert_eq!(again.as_str(), name.as_str());
        }
    }

    #[test]
    fn allowed_nets_accept_only_addresses_and_prefixes(input in "[0-9a-f:./, ]{0,60}|\\PC{0,40}") {
        if let Ok(Some(nets)) = AllowedNets::parse(&input) {
            for part in nets.as_str().split(',') {
                let (addr, bits) = part.split_once('/').expect("normalised with a prefix");
                prop_assert!(addr.parse::<std::net::IpAddr>().is_ok());
                prop_assert!(bits.parse::<u8>().is_ok());
            }
            // What reaches Dovecot's allow_nets holds no quote, space or SQL.
            prop_assert!(!nets.as_str().contains(['\'', ' ', ';']));
        }
    }

    #[test]
    fn a_lookup_id_is_exactly_six_alphabet_symbols(input in "\\PC{0,10}") {
        if let Ok(id) = LookupId::parse(&input) {
            prop_assert_eq!(id.as_str().len(), 6);
            prop_assert!(id.as_str().bytes().all(|b| super::app_password::ALPHABET.contains(&b)));
        }
    }
}
