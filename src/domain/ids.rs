//! Typed ids of the stored entities, so that a user's id cannot be passed where an app
//! password's is meant. Each is the row's integer key, transparent to serde (path segments,
//! JSON) and to sqlx (bound and read as the plain integer on SQLite and PostgreSQL alike).

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub i64);

        impl $name {
            /// The integer key, for the few places that speak to something other than Rust
            /// (a bound parameter written by hand, a test's SQL).
            pub fn get(self) -> i64 {
                self.0
            }
        }

        /// The bare number: ids appear in URLs, audit details and rate-limit keys.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                Self(id)
            }
        }
    };
}

id_type!(
    /// An account (`users.id`).
    UserId
);
id_type!(
    /// A passkey or security key of an account (`passkeys.id`).
    PasskeyId
);
id_type!(
    /// An app password (`app_passwords.id`); Dovecot reports it back as `credential_id`.
    AppPasswordId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_and_print_as_their_number() {
        let id: UserId = serde_json::from_str("42").unwrap();
        assert_eq!(id, UserId(42));
        assert_eq!(serde_json::to_string(&id).unwrap(), "42");
        assert_eq!(AppPasswordId(7).to_string(), "7");
    }
}
