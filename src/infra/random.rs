//! Randomness from the operating system's generator: app passwords, tokens, salts.

pub use crate::domain::app_password::ALPHABET;
use crate::domain::app_password::{GROUP_LEN, LOOKUP_ID_LEN, SECRET_GROUPS};
use crate::domain::GeneratedAppPassword;

/// Fills `buf` from the OS generator. Failure means the OS cannot give randomness, in which
/// case no credential may be made at all.
pub fn os_random(buf: &mut [u8]) -> anyhow::Result<()> {
    getrandom::fill(buf).map_err(|e| anyhow::anyhow!("OS random generator failed: {e}"))
}

/// `len` symbols from [`ALPHABET`], 5 bits of entropy each.
pub fn random_symbols(len: usize) -> anyhow::Result<String> {
    let mut bytes = vec![0u8; len];
    os_random(&mut bytes)?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[usize::from(b & 31)] as char)
        .collect())
}

/// A new app password: a random lookup id and 120 random secret bits.
pub fn new_app_password() -> anyhow::Result<GeneratedAppPassword> {
    let lookup = random_symbols(LOOKUP_ID_LEN)?;
    let secret = random_symbols(SECRET_GROUPS * GROUP_LEN)?;
    Ok(GeneratedAppPassword::from_symbols(&lookup, &secret))
}

/// A 256-bit token for cookies and one-time links, URL-safe base64.
pub fn random_token() -> anyhow::Result<String> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    os_random(&mut bytes)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// SHA-256 of a token, hex: what the database keeps instead of the token itself.
pub fn token_digest(token: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_symbols_use_only_the_alphabet() {
        let s = random_symbols(200).unwrap();
        assert_eq!(s.len(), 200);
        assert!(s.bytes().all(|b| ALPHABET.contains(&b)));
    }

    #[test]
    fn two_tokens_differ() {
        assert_ne!(random_token().unwrap(), random_token().unwrap());
    }

    #[test]
    fn token_digest_is_stable_hex() {
        assert_eq!(token_digest("a"), token_digest("a"));
        assert_eq!(token_digest("a").len(), 64);
    }
}
