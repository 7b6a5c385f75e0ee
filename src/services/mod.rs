//! The use cases of Mailkeys, one function each, shared by the web handlers, the JSON API,
//! the command line and the Dovecot policy listener. Each owns its transaction, its audit
//! entry and its Dovecot sync (kick, cache flush). Nothing here imports `web`: handlers
//! parse input, call a service, and render.

pub mod account;
pub mod admin;
pub mod credentials;

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::config::Settings;
use crate::domain::hashing::Hasher;
use crate::dovecot::doveadm::Doveadm;
use crate::dovecot::status::DovecotStatus;
use crate::store::Db;

/// What every use case may need: the database, the hasher, the settings, the clock and
/// Dovecot. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub hasher: Hasher,
    pub settings: Arc<Settings>,
    pub clock: SharedClock,
    /// The doveadm HTTP API, when configured: kicks sessions (and flushes the cache on 2.3).
    pub doveadm: Option<Doveadm>,
    /// What this instance has seen of Dovecot (doveadm probe, policy reports).
    pub dovecot_status: Arc<DovecotStatus>,
}

impl Services {
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}
