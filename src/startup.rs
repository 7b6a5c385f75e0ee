//! Wiring: settings in, a ready server out. `main` and the tests both come through here.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::clock::{SharedClock, SystemClock};
use crate::config::Settings;
use crate::dovecot::doveadm::Doveadm;
use crate::dovecot::status::DovecotStatus;
use crate::infra::attempt_keys::AttemptKeys;
use crate::infra::hashing::Hasher;
use crate::infra::mail::Relay;
use crate::infra::metrics::Metrics;
use crate::infra::random::{random_token, token_digest};
use crate::services::{Parts, Services};
use crate::store::{setup_tokens, users, Db};
use crate::web::rate_limit::RateLimits;
use crate::web::{self, AppState};

pub struct Application {
    listener: TcpListener,
    policy_listener: Option<TcpListener>,
    metrics_listener: Option<TcpListener>,
    /// The SMTP relay of notices, when one is configured.
    relay: Option<Relay>,
    pub state: AppState,
}

/// Opens and migrates the database, binds the listener, and returns the application.
pub async fn build(settings: Settings) -> anyhow::Result<Application> {
    build_with_clock(settings, Arc::new(SystemClock)).await
}

pub async fn build_with_clock(
    settings: Settings,
    clock: SharedClock,
) -> anyhow::Result<Application> {
    settings.validate()?;
    let db = Db::connect(&settings.database_url).await?;
    db.migrate().await?;
    // A restore refuses while this lock is held (SQLite only).
    crate::store::backup::mark_in_use(&settings.database_url)?;
    let attempt_keys = AttemptKeys::load(&db).await?;
    let metrics = Metrics::new();
    let hasher = Hasher::new(
        settings.main_profile(),
        settings.app_profile(),
        settings.hash_concurrency,
    )?
    .with_metrics(metrics.clone());
    let listener = TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let policy_listener = match settings.policy_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen for Dovecot policy reports on {addr}"))?,
        ),
        None => None,
    };
    let metrics_listener = match settings.metrics_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen for Prometheus on {addr}"))?,
        ),
        None => None,
    };
    let doveadm = match (&settings.doveadm_url, &settings.doveadm_api_key) {
        (Some(url), Some(key)) => {
            Some(Doveadm::new(url, key, settings.dovecot_version)?.with_metrics(metrics.clone()))
        }
        _ => None,
    };
    let relay = Relay::from_settings(&settings)?;
    let limits = Arc::new(RateLimits::new(
        settings.sign_in_per_ip_per_minute,
        settings.checks_per_minute,
        crate::web::rate_limit::sign_in_turns(settings.hash_concurrency),
    ));
    let dovecot_status = Arc::new(DovecotStatus::default());
    if let Some(doveadm) = doveadm.clone() {
        tokio::spawn(check_doveadm(
            doveadm,
            dovecot_status.clone(),
            clock.clone(),
        ));
    }
    let webauthn = Arc::new(crate::services::second_factor::passkeys::relying_party(
        &settings,
    )?);
    let state = AppState {
        services: Services::from(Parts {
            db,
            hasher,
            attempt_keys,
            settings: Arc::new(settings),
            clock,
            doveadm,
            dovecot_status,
            metrics,
            webauthn,
            known_locks: crate::services::known_locks::KnownLocks::default(),
        }),
        limits,
    };
    // Bulk revocations left running by a process that crashed are shown as interrupted.
    crate::services::bulk_jobs::interrupt_stale(&state.services).await?;
    tokio::spawn(purge_attempt_counts(state.services.clone()));
    tokio::spawn(daily_clean_up(state.services.clone()));
    tokio::spawn(return_freed_memory_regularly());
    Ok(Application {
        listener,
        policy_listener,
        metrics_listener,
        relay,
        state,
    })
}

impl Application {
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// The address of the Dovecot auth-policy listener, if one is configured.
    pub fn policy_addr(&self) -> Option<SocketAddr> {
        self.policy_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// The address of the Prometheus listener, if one is configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// Serves until Ctrl-C or SIGTERM, then stops gracefully: no new connections, requests
    /// in flight finish (within `http_request_timeout_secs`), the database is closed.
    pub async fn run(self) -> anyhow::Result<()> {
        if let Some(listener) = self.metrics_listener {
            let metrics = web::metrics::router(self.state.services.metrics.clone());
            tokio::spawn(async move {
                if let Err(err) = axum::serve(listener, metrics).await {
                    tracing::error!(error = %err, "the Prometheus listener stopped");
                }
            });
        }
        if let Some(listener) = self.policy_listener {
            let policy = crate::dovecot::policy::router(self.state.services.clone())
                .into_make_service_with_connect_info::<SocketAddr>();
            tokio::spawn(async move {
                if let Err(err) = axum::serve(listener, policy).await {
                    tracing::error!(error = %err, "the Dovecot policy listener stopped");
                }
            });
        }
        let settings = &self.state.settings;
        let limits = web::listener::ListenerLimits {
            header_timeout: Duration::from_secs(settings.http_header_timeout_secs),
            max_connections: settings.max_connections,
            max_per_address: settings.max_connections_per_address,
            exempt: settings.trusted_proxies.clone(),
            // A request in flight cannot last longer than its time limit.
            grace: Duration::from_secs(settings.http_request_timeout_secs + 5),
        };
        let db = self.state.db.clone();
        let services = self.state.services.clone();
        let (stop_notices, stopped) = tokio::sync::watch::channel(false);
        let notices = self.relay.map(|relay| {
            tokio::spawn(crate::services::notices::worker::run(
                self.state.services.clone(),
                relay,
                stopped,
            ))
        });
        let app = web::router(self.state);
        web::listener::serve(self.listener, app, limits, shutdown_signal()).await;
        // Requests are done, so no notice is queued any more: the worker finishes the one
        // it is sending (a relay's answer is awaited for a bounded time) and stops.
        let _ = stop_notices.send(true);
        // A bulk revocation still running stops with the process: its page says so.
        if let Err(err) = crate::services::bulk_jobs::interrupt_own(&services).await {
            tracing::warn!(error = %err, "stopping: could not mark running bulk revocations");
        }
        if let Some(worker) = notices {
            if tokio::time::timeout(Duration::from_secs(35), worker)
                .await
                .is_err()
            {
                tracing::warn!("stopping: a notice was still being sent after 35 s");
            }
        }
        // Every request has finished or was cut short (rolled back): close the database.
        if tokio::time::timeout(Duration::from_secs(5), db.close())
            .await
            .is_err()
        {
            tracing::warn!("stopping: the database was still busy after 5 s; exiting anyway");
        }
        tracing::info!("Mailkeys stopped");
        Ok(())
    }
}

/// Deletes the attempt counts that no longer matter, now and every ten minutes, so that
/// records of failed attempts do not pile up forever.
async fn purge_attempt_counts(services: crate::services::Services) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        if let Err(err) = crate::services::attempts::purge_expired(&services).await {
            tracing::warn!(error = %err, "could not delete expired attempt counts");
        }
    }
}

/// Hands memory freed after a burst back to the operating system every 30 s (a walk over
/// the allocator's arenas, off the async workers), so a service at rest after a flood comes
/// back near its idle size instead of keeping the flood's high-water mark.
async fn return_freed_memory_regularly() {
    let mut every = tokio::time::interval(Duration::from_secs(30));
    loop {
        every.tick().await;
        let _ = tokio::task::spawn_blocking(crate::infra::hash_pool::return_freed_memory).await;
    }
}

/// Trims the audit log to `audit_retention_days` and the IMAP login history to its 30 days
/// (`services::activity::LOGIN_HISTORY_DAYS`), at start-up and then daily.
async fn daily_clean_up(services: crate::services::Services) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(24 * 60 * 60));
    loop {
        every.tick().await;
        match crate::services::audit_log::clean_up(&services).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "audit log cleaned up to its retention"),
            Err(err) => tracing::warn!(error = %err, "could not clean up the audit log"),
        }
        match crate::services::activity::prune_history(&services).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "login history trimmed to its 30 days"),
            Err(err) => tracing::warn!(error = %err, "could not trim the login history"),
        }
    }
}

/// The start-up check of the doveadm API: one harmless call, and a loud warning (log now,
/// admin page later) when it fails or the version it shows differs from the setting.
async fn check_doveadm(doveadm: Doveadm, status: Arc<DovecotStatus>, clock: SharedClock) {
    let result = doveadm.probe().await;
    match &result {
        Ok(probe) => {
            let configured = doveadm.configured_version();
            match (configured, probe.detected) {
                (Some(set), Some(seen)) if set != seen => tracing::warn!(
                    endpoint = doveadm.endpoint(),
                    "dovecot_version is {set} but the doveadm API looks like Dovecot {seen}: \
                     fix dovecot_version"
                ),
                _ => tracing::info!(
                    endpoint = doveadm.endpoint(),
                    version = doveadm.version().map_or("unknown", |v| v.as_str()),
                    "doveadm API reachable"
                ),
            }
        }
        Err(err) => tracing::warn!(
            endpoint = doveadm.endpoint(),
            "DOVEADM API CHECK FAILED: {err}. Until this is fixed, revocations cannot end \
             open IMAP sessions (they stay until the client reconnects)"
        ),
    }
    status.record_probe(clock.now(), result.map_err(|e| e.to_string()));
}

/// With no admin yet, a one-time link that lets the first admin choose a password.
pub async fn setup_link_if_needed(state: &AppState) -> anyhow::Result<Option<String>> {
    if users::any_admin(&state.db).await? {
        return Ok(None);
    }
    let token = random_token()?;
    let expires_at = state.now() + state.settings.setup_link_ttl_secs;
    setup_tokens::insert(&state.db, &token_digest(&token), expires_at).await?;
    Ok(Some(format!("{}/setup/{token}", state.settings.base_url())))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
