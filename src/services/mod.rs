//! The use cases of Mailkeys, one function each, shared by the web handlers, the JSON API,
//! the command line and the Dovecot policy listener. Each owns its transaction, its audit
//! entry and its Dovecot sync (kick, cache flush). Nothing here imports `web`: handlers
//! parse input, call a service, and render.

pub mod account;
pub mod accounts;
pub mod activity;
pub mod actor;
pub mod admin;
pub mod api_tokens;
pub mod attempts;
pub mod audit_filter;
pub mod audit_log;
pub mod auth;
pub mod bulk_jobs;
pub mod bulk_revoke;
pub mod check;
pub mod credentials;
pub mod devices;
pub mod health;
pub mod invitations;
pub mod known_locks;
pub mod notices;
pub mod second_factor;
pub mod shown_once;
pub mod users;

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::config::Settings;
use crate::dovecot::doveadm::Doveadm;
use crate::dovecot::status::DovecotStatus;
use crate::infra::attempt_keys::AttemptKeys;
use crate::infra::hashing::Hasher;
use crate::infra::metrics::Metrics;
use crate::store::Db;

/// What every use case may need: the database, the hasher, the settings, the clock,
/// Dovecot and the metrics ([`Parts`], read through `Deref`).
///
/// One reference count to clone, whatever it holds: axum clones the state for every
/// extractor of every request, and cloning the parts one by one (a dozen reference counts,
/// the doveadm address's string) took about 7 % of the CPU of a flood of refused sign-ins.
#[derive(Clone)]
pub struct Services(Arc<Parts>);

impl From<Parts> for Services {
    fn from(parts: Parts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for Services {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

/// What [`Services`] holds.
pub struct Parts {
    pub db: Db,
    pub hasher: Hasher,
    /// Keys for counting password attempts without storing what was typed.
    pub attempt_keys: AttemptKeys,
    pub settings: Arc<Settings>,
    pub clock: SharedClock,
    /// The doveadm HTTP API, when configured: kicks sessions (and flushes the cache on 2.3).
    pub doveadm: Option<Doveadm>,
    /// What this instance has seen of Dovecot (doveadm probe, policy reports).
    pub dovecot_status: Arc<DovecotStatus>,
    /// This instance's Prometheus series (served when `metrics_listen` is set).
    pub metrics: Metrics,
    /// The WebAuthn relying party (passkeys), from `public_url`.
    pub webauthn: Arc<webauthn_rs::Webauthn>,
    /// The attempt locks this instance has read, until they end.
    pub known_locks: known_locks::KnownLocks,
}

impl Parts {
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}

impl Services {
    /// For a command-line process: the database (migrated), a hasher with one thread, the
    /// doveadm client if configured, the system clock.
    pub async fn for_command_line(settings: &Settings) -> anyhow::Result<Self> {
        let db = Db::connect(&settings.database_url).await?;
        db.migrate().await?;
        let hasher = Hasher::new(settings.main_profile(), settings.app_profile(), 1)?;
        let attempt_keys = AttemptKeys::load(&db).await?;
        let doveadm = match (&settings.doveadm_url, &settings.doveadm_api_key) {
            (Some(url), Some(key)) => Some(Doveadm::new(url, key, settings.dovecot_version)?),
            _ => None,
        };
        Ok(Self::from(Parts {
            db,
            hasher,
            attempt_keys,
            settings: Arc::new(settings.clone()),
            clock: Arc::new(crate::clock::SystemClock),
            doveadm,
            dovecot_status: Arc::new(DovecotStatus::default()),
            metrics: Metrics::default(),
            webauthn: Arc::new(second_factor::passkeys::relying_party(settings)?),
            known_locks: known_locks::KnownLocks::default(),
        }))
    }
}
