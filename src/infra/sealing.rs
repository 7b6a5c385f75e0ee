//! Sealing a new app password for its one showing. The key is derived (HKDF-SHA256) from
//! the browser session's cookie token, which only the browser holds: the server keeps the
//! token's SHA-256 and the sealed text, so neither a copy of the database nor a look at the
//! server's memory after the request opens it. ChaCha20-Poly1305 with a random nonce per
//! seal; the associated data binds the sealed text to its row, so it cannot be moved to
//! another app password's row.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

const NONCE_LEN: usize = 12;
/// Changing the derivation means changing this label, so old and new keys never mix.
const KEY_LABEL: &[u8] = b"mailkeys shown-once key v1";

fn cipher(session_token: &SecretString) -> anyhow::Result<ChaCha20Poly1305> {
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(None, session_token.expose_secret().as_bytes())
        .expand(KEY_LABEL, &mut key)
        .map_err(|_| anyhow::anyhow!("HKDF output length"))?;
    Ok(ChaCha20Poly1305::new(Key::from_slice(&key)))
}

/// `secret` sealed under `session_token` for the row named by `binding`: base64 of nonce
/// and ciphertext.
pub fn seal(
    session_token: &SecretString,
    binding: &str,
    secret: &SecretString,
) -> anyhow::Result<String> {
    let mut nonce = [0u8; NONCE_LEN];
    super::random::os_random(&mut nonce)?;
    let sealed = cipher(session_token)?
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: secret.expose_secret().as_bytes(),
                aad: binding.as_bytes(),
            },
        )
        .map_err(|_| anyhow::anyhow!("sealing failed"))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(STANDARD.encode(out))
}

/// The secret of [`seal`], or `None` when the token or the binding is not the one it was
/// sealed with (another session, another row) or the text was altered.
pub fn open(session_token: &SecretString, binding: &str, sealed: &str) -> Option<SecretString> {
    let bytes = STANDARD.decode(sealed).ok()?;
    if bytes.len() <= NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
    let plain = cipher(session_token)
        .ok()?
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: binding.as_bytes(),
            },
        )
        .ok()?;
    String::from_utf8(plain).ok().map(SecretString::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn a_sealed_secret_opens_with_the_same_token_and_binding_only() {
        let token = secret("token-one");
        let sealed = seal(&token, "7", &secret("abcdef-ghij")).unwrap();
        assert!(!sealed.contains("ghij"));
        assert_eq!(
            open(&token, "7", &sealed).map(|s| s.expose_secret().to_owned()),
            Some("abcdef-ghij".to_owned())
        );
        assert!(open(&secret("token-two"), "7", &sealed).is_none());
        assert!(open(&token, "8", &sealed).is_none());
        let mut altered = STANDARD.decode(&sealed).unwrap();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert!(open(&token, "7", &STANDARD.encode(altered)).is_none());
        assert!(open(&token, "7", "not base64!").is_none());
    }

    #[test]
    fn two_seals_of_one_secret_differ() {
        let token = secret("t");
        assert_ne!(
            seal(&token, "1", &secret("x")).unwrap(),
            seal(&token, "1", &secret("x")).unwrap()
        );
    }
}
