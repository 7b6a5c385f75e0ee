//! Argon2id hashing in the form Dovecot reads: `{ARGON2ID}$argon2id$v=19$m=…`.
//!
//! Hashing is CPU- and memory-heavy, so it runs on the blocking pool, and a semaphore caps
//! how many run at once: 500 simultaneous sign-ins queue up instead of allocating 500 ×
//! 19 MiB, and the async workers stay free to serve other pages.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

/// The scheme prefix Dovecot expects in front of the PHC string.
pub const DOVECOT_PREFIX: &str = "{ARGON2ID}";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashProfile {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl HashProfile {
    pub fn params(&self) -> anyhow::Result<Params> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| anyhow::anyhow!("invalid argon2 parameters {self:?}: {e}"))
    }
}

/// Which cost to pay: human-chosen passwords need a slow hash; generated ones, whose
/// entropy protects them, get a light one because every IMAP login pays it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Main,
    App,
}

#[derive(Clone)]
pub struct Hasher {
    main: Argon2<'static>,
    app: Argon2<'static>,
    permits: Arc<Semaphore>,
    /// A main-profile hash of a random string: unknown users are checked against it so that
    /// they cost the same as known ones.
    decoy: Arc<str>,
    /// How many verifications ran: lets tests prove that refusals cost no hashing.
    verifications: Arc<AtomicU64>,
}

impl Hasher {
    pub fn new(main: HashProfile, app: HashProfile, concurrency: usize) -> anyhow::Result<Self> {
        let concurrency = if concurrency == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            concurrency
        };
        let main = Argon2::new(Algorithm::Argon2id, Version::V0x13, main.params()?);
        let app = Argon2::new(Algorithm::Argon2id, Version::V0x13, app.params()?);
        let decoy_secret = SecretString::from(super::random::random_token()?);
        let decoy = hash_with(&main, &decoy_secret)?;
        Ok(Self {
            main,
            app,
            permits: Arc::new(Semaphore::new(concurrency)),
            decoy: decoy.into(),
            verifications: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Hashes `secret` with the given profile, off the async threads.
    pub async fn hash(&self, profile: Profile, secret: SecretString) -> anyhow::Result<String> {
        let argon = match profile {
            Profile::Main => self.main.clone(),
            Profile::App => self.app.clone(),
        };
        self.run_blocking(move || hash_with(&argon, &secret)).await
    }

    /// Verifies `secret` against a stored hash. With `None` (unknown user) it verifies
    /// against the decoy and returns false, doing the same work as a real check.
    pub async fn verify(
        &self,
        secret: SecretString,
        stored: Option<String>,
    ) -> anyhow::Result<bool> {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.decoy.to_string());
        let matched = self
            .run_blocking(move || verify_stored(&secret, &stored))
            .await?;
        Ok(known && matched)
    }

    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    async fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let permit = self.permits.clone().acquire_owned().await?;
        tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        })
        .await
        .context("hashing task failed")?
    }
}

fn hash_with(argon: &Argon2<'_>, secret: &SecretString) -> anyhow::Result<String> {
    let mut salt_bytes = [0u8; 16];
    super::random::os_random(&mut salt_bytes)?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let phc = argon
        .hash_password(secret.expose_secret().as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))?;
    Ok(format!("{DOVECOT_PREFIX}{phc}"))
}

/// Checks a `{ARGON2ID}` PHC string; the parameters come from the string itself, so hashes
/// made under an older profile keep verifying.
pub fn verify_stored(secret: &SecretString, stored: &str) -> anyhow::Result<bool> {
    let phc = stored.strip_prefix(DOVECOT_PREFIX).unwrap_or(stored);
    let parsed =
        PasswordHash::new(phc).map_err(|e| anyhow::anyhow!("stored hash unreadable: {e}"))?;
    Ok(Argon2::default()
        .verify_password(secret.expose_secret().as_bytes(), &parsed)
        .is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIGHT: HashProfile = HashProfile {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };

    #[tokio::test]
    async fn a_hash_carries_the_dovecot_prefix_and_its_parameters() {
        let hasher = Hasher::new(LIGHT, LIGHT, 1).unwrap();
        let hash = hasher
            .hash(Profile::App, SecretString::from("s3cret"))
            .await
            .unwrap();
        assert!(
            hash.starts_with("{ARGON2ID}$argon2id$v=19$m=1024,t=1,p=1$"),
            "{hash}"
        );
    }

    #[tokio::test]
    async fn the_right_secret_verifies_and_a_wrong_one_does_not() {
        let hasher = Hasher::new(LIGHT, LIGHT, 1).unwrap();
        let hash = hasher
            .hash(Profile::Main, SecretString::from("right"))
            .await
            .unwrap();
        assert!(hasher
            .verify(SecretString::from("right"), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!hasher
            .verify(SecretString::from("wrong"), Some(hash))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        let hasher = Hasher::new(LIGHT, LIGHT, 1).unwrap();
        assert!(!hasher
            .verify(SecretString::from("anything"), None)
            .await
            .unwrap());
    }
}
