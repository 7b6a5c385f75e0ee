//! Keys for counting password attempts and for finding them in the audit log: an HMAC of
//! the normalised typed address (or of the client address), under a key this installation
//! generated on first start. Whatever someone typed into the email field (people type
//! passwords there) is never stored; an admin who knows an address can still compute its
//! key and find the attempts made with it.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::domain::Username;
use crate::store::{server_secrets, Db};

const SECRET_NAME: &str = "attempt_key_hmac";

#[derive(Clone)]
pub struct AttemptKeys {
    secret: SecretString,
}

impl std::fmt::Debug for AttemptKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AttemptKeys(..)")
    }
}

impl AttemptKeys {
    /// Loads the installation's key, generating it on first start.
    pub async fn load(db: &Db) -> anyhow::Result<Self> {
        let secret =
            server_secrets::get_or_create(db, SECRET_NAME, super::random::random_token).await?;
        Ok(Self {
            secret: secret.into(),
        })
    }

    /// The key of a typed account address: the same for every spelling that names the same
    /// account (case, surrounding spaces), so a lock cannot be dodged by typing `ALICE@…`.
    pub fn account(&self, typed: &str) -> String {
        format!("account:{}", self.mac(&normalised_address(typed)))
    }

    /// The key of a client address.
    pub fn address(&self, ip: &str) -> String {
        format!("address:{}", self.mac(ip))
    }

    /// The keyed hash a recovery code of `user` is stored as. A code has 80 random bits, so a
    /// fast keyed hash is enough (no Argon2 needed to slow down guessing), and it lets the
    /// one unused row with this hash be found and spent in a single UPDATE.
    pub fn recovery_code(&self, user: crate::domain::UserId, compact_code: &str) -> String {
        format!("recovery:{}", self.mac(&format!("{user}:{compact_code}")))
    }

    fn mac(&self, text: &str) -> String {
        // new_from_slice accepts any key length for HMAC; the fallback is never taken.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.secret.expose_secret().as_bytes())
        else {
            return String::new();
        };
        mac.update(text.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// A valid address as the account table spells it; anything else trimmed and lowercased.
fn normalised_address(typed: &str) -> String {
    match Username::parse(typed) {
        Ok(name) => name.as_str().to_owned(),
        Err(_) => typed.trim().to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> AttemptKeys {
        AttemptKeys {
            secret: SecretString::from("k".repeat(43)),
        }
    }

    #[test]
    fn spellings_of_one_address_share_a_key_and_reveal_nothing() {
        let k = keys();
        assert_eq!(
            k.account("Alice@Example.org "),
            k.account("alice@example.org")
        );
        assert_ne!(k.account("alice@example.org"), k.account("bob@example.org"));
        assert!(!k.account("alice@example.org").contains("alice"));
        assert_eq!(k.account("x").len(), "account:".len() + 64);
    }

    #[test]
    fn the_key_depends_on_the_installation_secret() {
        let other = AttemptKeys {
            secret: SecretString::from("j".repeat(43)),
        };
        assert_ne!(keys().account("a@b.c"), other.account("a@b.c"));
        assert_ne!(keys().address("192.0.2.1"), keys().account("192.0.2.1"));
    }
}
