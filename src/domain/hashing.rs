//! Argon2id hashing in the form Dovecot reads: `{ARGON2ID}$argon2id$v=19$m=…`.
//!
//! Hashing is CPU- and memory-heavy, so it runs on a small pool of dedicated threads, one
//! per core by default: 500 simultaneous sign-ins queue up instead of allocating 500 ×
//! 19 MiB, and the async workers stay free to serve other pages. Dedicated threads rather
//! than tokio's blocking pool: the blocking pool grows a new thread whenever all are busy,
//! and each new thread gets its own malloc arena that keeps its 19 MiB after the hash is
//! done; measured, a flood of 500 sign-ins then peaked at 789 MiB instead of about 70.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use anyhow::Context;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::oneshot;

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
    pool: HashPool,
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
            pool: HashPool::new(concurrency)?,
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
        let (tx, rx) = oneshot::channel();
        self.pool.submit(Box::new(move || {
            // The caller may have gone away (request cancelled): nothing to tell then.
            let _ = tx.send(work());
        }))?;
        rx.await.context("hashing thread stopped")?
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads taking jobs from one queue. The threads end when the last
/// [`Hasher`] clone is dropped and the queue closes.
#[derive(Clone)]
struct HashPool {
    queue: mpsc::Sender<Job>,
}

impl HashPool {
    fn new(threads: usize) -> anyhow::Result<Self> {
        let (queue, jobs) = mpsc::channel::<Job>();
        let jobs = Arc::new(Mutex::new(jobs));
        for n in 0..threads {
            let jobs = jobs.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || loop {
                    let next = match jobs.lock() {
                        Ok(receiver) => receiver.recv(),
                        Err(_) => return,
                    };
                    match next {
                        // A panicking job must not take the thread (and capacity) with it.
                        Ok(job) => {
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                        Err(_) => return,
                    }
                })
                .context("cannot start a hashing thread")?;
        }
        Ok(Self { queue })
    }

    fn submit(&self, job: Job) -> anyhow::Result<()> {
        self.queue
            .send(job)
            .map_err(|_| anyhow::anyhow!("hashing threads have stopped"))
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
