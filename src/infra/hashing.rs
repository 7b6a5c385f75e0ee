//! Argon2id hashing in the form Dovecot reads: `{ARGON2ID}$argon2id$v=19$m=…`.
//!
//! Hashing is CPU- and memory-heavy, so it runs on a small pool of dedicated threads
//! (`hash_pool`): one fewer than the cores by default, each keeping its Argon2 memory only
//! while there is work.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;

use super::hash_pool::{self, argon2_into, HashPool, IDLE_RELEASE};
use super::metrics::Metrics;

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
    /// A main-profile PHC string with a random salt and a random output: unknown users are
    /// checked against it so that they cost the same as known ones. Verifying it costs
    /// exactly a real check (the work depends only on the parameters), and making it costs
    /// nothing, so start-up computes no hash.
    decoy: Arc<str>,
    /// How many verifications ran: lets tests prove that refusals cost no hashing.
    verifications: Arc<AtomicU64>,
    /// Where the queue's depth and each hash's wait are recorded.
    metrics: Metrics,
}

/// The hashing threads of the `hash_concurrency` setting: 0 means the default
/// (`hash_pool::default_threads`).
pub fn threads_for(concurrency: usize) -> usize {
    if concurrency == 0 {
        hash_pool::default_threads()
    } else {
        concurrency
    }
}

impl Hasher {
    /// `concurrency` hashing threads; 0 means the default (`hash_pool::default_threads`).
    pub fn new(main: HashProfile, app: HashProfile, concurrency: usize) -> anyhow::Result<Self> {
        let pool = HashPool::new(threads_for(concurrency), IDLE_RELEASE)?;
        let decoy = decoy_hash(&main.params()?)?;
        let main = Argon2::new(Algorithm::Argon2id, Version::V0x13, main.params()?);
        let app = Argon2::new(Algorithm::Argon2id, Version::V0x13, app.params()?);
        Ok(Self {
            main,
            app,
            pool,
            decoy: decoy.into(),
            verifications: Arc::new(AtomicU64::new(0)),
            metrics: Metrics::default(),
        })
    }

    /// Bytes of Argon2 memory the hashing threads hold now: 0 once they have been idle.
    pub fn memory_held(&self) -> usize {
        self.pool.memory_held()
    }

    /// Hashes waiting for a thread.
    pub fn queued(&self) -> usize {
        self.pool.queued()
    }

    /// This hasher, recording its queue (depth, each hash's wait) in `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
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
        let (metrics, queued) = (self.metrics.clone(), Instant::now());
        self.metrics.hash_queued();
        let submitted = self.pool.submit(Box::new(move || {
            metrics.hash_dequeued(Some(queued.elapsed()));
            // The caller may have gone away (request cancelled): nothing to tell then.
            let _ = tx.send(work());
        }));
        if submitted.is_err() {
            self.metrics.hash_dequeued(None);
        }
        submitted?;
        rx.await.context("hashing thread stopped")?
    }
}

/// A stored-hash look-alike no password matches (its output is random, not a hash of
/// anything), with the main profile's parameters.
fn decoy_hash(params: &Params) -> anyhow::Result<String> {
    let mut salt_bytes = [0u8; 16];
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    super::random::os_random(&mut salt_bytes)?;
    super::random::os_random(&mut out)?;
    phc_string(params, &salt_bytes, &out)
}

fn phc_string(params: &Params, salt_bytes: &[u8], out: &[u8]) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(salt_bytes).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| anyhow::anyhow!("params: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(out).map_err(|e| anyhow::anyhow!("output: {e}"))?),
    };
    Ok(format!("{DOVECOT_PREFIX}{phc}"))
}

fn hash_with(argon: &Argon2<'_>, secret: &SecretString) -> anyhow::Result<String> {
    let mut salt_bytes = [0u8; 16];
    super::random::os_random(&mut salt_bytes)?;
    let params = argon.params().clone();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(
        argon,
        &params,
        secret.expose_secret().as_bytes(),
        &salt_bytes,
        &mut out,
    )?;
    phc_string(&params, &salt_bytes, &out)
}

/// Checks a `{ARGON2ID}` PHC string; the parameters come from the string itself, so hashes
/// made under an older profile keep verifying. The comparison is constant-time.
pub fn verify_stored(secret: &SecretString, stored: &str) -> anyhow::Result<bool> {
    let phc = stored.strip_prefix(DOVECOT_PREFIX).unwrap_or(stored);
    let parsed =
        PasswordHash::new(phc).map_err(|e| anyhow::anyhow!("stored hash unreadable: {e}"))?;
    let algorithm =
        Algorithm::try_from(parsed.algorithm).map_err(|e| anyhow::anyhow!("algorithm: {e}"))?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|e| anyhow::anyhow!("version: {e}"))?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(|e| anyhow::anyhow!("params: {e}"))?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        anyhow::bail!("stored hash has no salt or no output");
    };
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_buf)
        .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params.clone());
    argon2_into(
        &argon,
        &params,
        secret.expose_secret().as_bytes(),
        salt_bytes,
        &mut out,
    )?;
    Ok(bool::from(out.as_slice().ct_eq(expected.as_bytes())))
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

    #[test]
    fn our_hashes_and_the_argon2_crates_own_agree_both_ways() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, LIGHT.params().unwrap());
        let ours = hash_with(&argon, &SecretString::from("pw")).unwrap();
        let phc = PasswordHash::new(ours.strip_prefix(DOVECOT_PREFIX).unwrap()).unwrap();
        assert!(Argon2::default().verify_password(b"pw", &phc).is_ok());
        assert!(Argon2::default().verify_password(b"other", &phc).is_err());

        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = argon.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(verify_stored(&SecretString::from("pw"), &theirs).unwrap());
        assert!(!verify_stored(
            &SecretString::from("other"),
            &format!("{DOVECOT_PREFIX}{theirs}")
        )
        .unwrap());
    }

    #[test]
    fn a_stored_hash_of_a_higher_cost_still_verifies_on_a_used_thread() {
        let light = Argon2::new(Algorithm::Argon2id, Version::V0x13, LIGHT.params().unwrap());
        let heavier = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 2, 2, None).unwrap(),
        );
        let small = hash_with(&light, &SecretString::from("a")).unwrap();
        let big = hash_with(&heavier, &SecretString::from("b")).unwrap();
        assert!(verify_stored(&SecretString::from("a"), &small).unwrap());
        assert!(verify_stored(&SecretString::from("b"), &big).unwrap());
        assert!(verify_stored(&SecretString::from("a"), &small).unwrap());
    }

    #[test]
    fn the_decoy_carries_the_main_profile_so_it_costs_what_a_real_check_costs() {
        let main = HashProfile {
            memory_kib: 2048,
            iterations: 3,
            parallelism: 1,
        };
        let hasher = Hasher::new(main, LIGHT, 1).unwrap();
        assert!(
            hasher
                .decoy
                .starts_with("{ARGON2ID}$argon2id$v=19$m=2048,t=3,p=1$"),
            "{}",
            hasher.decoy
        );
        assert_eq!(hasher.memory_held(), 0, "start-up hashes nothing");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_queue_depth_and_each_wait_are_recorded() {
        let metrics = Metrics::new();
        let hasher = Hasher::new(LIGHT, LIGHT, 1)
            .unwrap()
            .with_metrics(metrics.clone());
        let has = |line: &str| metrics.render().unwrap().lines().any(|l| l == line);
        let (started, on_start) = std::sync::mpsc::channel();
        let (release, on_release) = std::sync::mpsc::channel::<()>();
        let one = hasher.clone();
        let busy = tokio::spawn(async move {
            one.run_blocking(move || {
                started.send(()).unwrap();
                on_release.recv().unwrap();
                Ok(())
            })
            .await
        });
        tokio::task::spawn_blocking(move || on_start.recv().unwrap())
            .await
            .unwrap();
        let waiting: Vec<_> = (0..2)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.run_blocking(|| Ok(())).await })
            })
            .collect();
        let mut queued = false;
        for _ in 0..200 {
            queued = has("mailkeys_hash_queue_depth 2");
            if queued {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(queued, "two hashes wait behind the busy thread");
        release.send(()).unwrap();
        busy.await.unwrap().unwrap();
        for task in waiting {
            task.await.unwrap().unwrap();
        }
        assert!(has("mailkeys_hash_queue_depth 0"));
        assert!(has("mailkeys_hash_queue_wait_seconds_count 3"));
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
