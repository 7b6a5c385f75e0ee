//! The doveadm HTTP API client. After a credential changes, Mailkeys kicks the user's live
//! IMAP sessions and, where the Dovecot version can (2.3), flushes the user's entries from
//! the auth cache, so a revoked password stops working now rather than when the cache
//! expires or the client reconnects.
//!
//! Each command goes in a request of its own: on Dovecot 2.4.1 `authCacheFlush` panics the
//! doveadm server, and a batch that starts with it never answers, so its kick would never
//! run. The version comes from the `dovecot_version` setting or from the API itself
//! ([`Doveadm::probe`]): the command list of 2.4 has a `kick` parameter `passdbField`, 2.3's
//! has `batch` (neither sends a version).

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use super::version::DovecotVersion;
use crate::domain::Username;
use crate::infra::metrics::Metrics;

/// What happened on the mail server after a credential change; the UI tells the user.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum SessionSync {
    /// Live sessions ended (and the auth cache flushed where the version can).
    Ended,
    /// No doveadm API is configured: open sessions stay until the client reconnects.
    #[serde(rename = "kept")]
    NotConfigured,
    /// The API did not answer; open sessions may stay until the client reconnects.
    Failed,
}

impl SessionSync {
    pub fn as_query(self) -> &'static str {
        match self {
            Self::Ended => "ended",
            Self::NotConfigured => "kept",
            Self::Failed => "failed",
        }
    }
}

/// Why a doveadm call failed, in terms an admin can act on.
#[derive(Debug, thiserror::Error)]
pub enum DoveadmError {
    #[error("nothing answers at {endpoint} ({detail}): is doveadm's inet_listener http on that address and port?")]
    Unreachable { endpoint: String, detail: String },
    #[error("Dovecot refused the API key (HTTP 401): doveadm_api_key differs from Dovecot's doveadm_api_key")]
    WrongKey,
    #[error("{endpoint} answered HTTP 404: it is not the doveadm HTTP API (give the base URL, e.g. http://127.0.0.1:8026, or one ending in /doveadm/v1)")]
    NotFound { endpoint: String },
    #[error("doveadm answered HTTP {status}")]
    Status { status: u16 },
    #[error("doveadm gave no answer within {secs} s")]
    Timeout { secs: u64 },
    #[error("doveadm reported an error: {0}")]
    Command(String),
    #[error("doveadm's answer was not understood: {0}")]
    Protocol(String),
}

impl DoveadmError {
    /// A few words for a public answer (`/readyz`): no address, no detail.
    pub fn short(&self) -> String {
        match self {
            Self::Unreachable { .. } => "unreachable".into(),
            Self::WrongKey => "API key refused".into(),
            Self::NotFound { .. } => "not the doveadm API (HTTP 404)".into(),
            Self::Status { status } => format!("HTTP {status}"),
            Self::Timeout { secs } => format!("no answer within {secs} s"),
            Self::Command(_) => "command failed".into(),
            Self::Protocol(_) => "answer not understood".into(),
        }
    }
}

/// What a successful [`Doveadm::probe`] learned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeResult {
    /// The version the API's command list shows (`None`: neither fingerprint matched).
    pub detected: Option<DovecotVersion>,
    pub commands: usize,
}

const TIMEOUT: Duration = Duration::from_secs(3);
/// How long a readiness answer is reused: a stream of `/readyz` requests makes at most one
/// doveadm call per this period, and never more than one at a time.
const READY_REUSE: Duration = Duration::from_secs(2);

type ReadyCache = Arc<tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>>;

#[derive(Clone)]
pub struct Doveadm {
    client: reqwest::Client,
    endpoint: String,
    authorization: SecretString,
    configured: Option<DovecotVersion>,
    detected: Arc<RwLock<Option<DovecotVersion>>>,
    metrics: Metrics,
    ready: ReadyCache,
}

impl std::fmt::Debug for Doveadm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Doveadm")
            .field("endpoint", &self.endpoint)
            .field("version", &self.version())
            .finish_non_exhaustive()
    }
}

/// The API endpoint for a configured URL in either accepted form: the base
/// (`http://127.0.0.1:8026`) or the full path (`http://127.0.0.1:8026/doveadm/v1`).
pub fn endpoint_of(url: &url::Url) -> String {
    let base = url.as_str().trim_end_matches('/');
    let base = base.strip_suffix("/doveadm/v1").unwrap_or(base);
    format!("{}/doveadm/v1", base.trim_end_matches('/'))
}

impl Doveadm {
    pub fn new(
        url: &url::Url,
        api_key: &SecretString,
        version: Option<DovecotVersion>,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder().timeout(TIMEOUT).build()?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(api_key.expose_secret());
        Ok(Self {
            client,
            endpoint: endpoint_of(url),
            authorization: SecretString::from(format!("X-Dovecot-API {encoded}")),
            configured: version,
            detected: Arc::new(RwLock::new(None)),
            metrics: Metrics::default(),
            ready: ReadyCache::default(),
        })
    }

    /// This client, counting its calls and failures in `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The version in force: the setting, else what the last probe detected.
    pub fn version(&self) -> Option<DovecotVersion> {
        self.configured
            .or_else(|| self.detected.read().ok().and_then(|v| *v))
    }

    /// The `dovecot_version` setting, if any.
    pub fn configured_version(&self) -> Option<DovecotVersion> {
        self.configured
    }

    /// A harmless call (the API's command list) that proves the URL and the key, and tells
    /// 2.3 from 2.4. Remembers the detected version.
    pub async fn probe(&self) -> Result<ProbeResult, DoveadmError> {
        let result = self.list_commands().await;
        self.metrics.doveadm_call("list", result.is_ok());
        result
    }

    /// Whether the API answers, for readiness: a [`Self::probe`] at most every
    /// [`READY_REUSE`], the answer shared by the requests that asked meanwhile.
    pub async fn ready(&self) -> Result<(), String> {
        let mut last = self.ready.lock().await;
        if let Some((at, result)) = last.as_ref() {
            if at.elapsed() < READY_REUSE {
                return result.clone();
            }
        }
        let result = self.probe().await.map(|_| ()).map_err(|e| e.short());
        *last = Some((Instant::now(), result.clone()));
        result
    }

    async fn list_commands(&self) -> Result<ProbeResult, DoveadmError> {
        let response = self
            .client
            .get(&self.endpoint)
            .header("Authorization", self.authorization.expose_secret())
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let response = self.check_status(response)?;
        let commands: Vec<Value> = response
            .json()
            .await
            .map_err(|e| DoveadmError::Protocol(e.to_string()))?;
        let detected = fingerprint(&commands);
        if let (Some(version), Ok(mut slot)) = (detected, self.detected.write()) {
            *slot = Some(version);
        }
        Ok(ProbeResult {
            detected,
            commands: commands.len(),
        })
    }

    /// Ends the user's live sessions if `kick`, and flushes their auth-cache entries where
    /// the version can. Each command is a request of its own.
    pub async fn end_sessions(&self, user: &Username, kick: bool) -> SessionSync {
        let mut result = SessionSync::Ended;
        if kick {
            // Usernames cannot hold doveadm's wildcards (* and ?), so this mask is exact.
            let command = json!([["kick", {"mask": [user.as_str()]}, "kick"]]);
            if let Err(err) = self.call("kick", command).await {
                tracing::warn!(error = %err, "doveadm kick failed; open IMAP sessions stay until clients reconnect");
                result = SessionSync::Failed;
            }
        }
        if self.version().is_none() {
            // Learn the version before deciding whether a flush is safe to send.
            let _ = self.probe().await;
        }
        if self
            .version()
            .is_some_and(DovecotVersion::can_flush_auth_cache)
        {
            let command = json!([["authCacheFlush", {"user": [user.as_str()]}, "flush"]]);
            if let Err(err) = self.call("authCacheFlush", command).await {
                tracing::warn!(error = %err, "doveadm authCacheFlush failed; a cached answer may outlive the change");
                result = SessionSync::Failed;
            }
        }
        result
    }

    /// Sends one command (`name` is its doveadm name, for the metrics).
    async fn call(&self, name: &'static str, body: Value) -> Result<(), DoveadmError> {
        let result = self.send(body).await;
        self.metrics.doveadm_call(name, result.is_ok());
        result
    }

    async fn send(&self, body: Value) -> Result<(), DoveadmError> {
        let response = self
            .client
            .post(&self.endpoint)
            .header("Authorization", self.authorization.expose_secret())
            .json(&body)
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let replies: Vec<Value> = self
            .check_status(response)?
            .json()
            .await
            .map_err(|e| DoveadmError::Protocol(e.to_string()))?;
        match replies.iter().find(|reply| is_real_error(reply)) {
            Some(reply) => Err(DoveadmError::Command(reply.to_string())),
            None => Ok(()),
        }
    }

    fn check_status(&self, response: reqwest::Response) -> Result<reqwest::Response, DoveadmError> {
        match response.status().as_u16() {
            200..=299 => Ok(response),
            401 | 403 => Err(DoveadmError::WrongKey),
            404 => Err(DoveadmError::NotFound {
                endpoint: self.endpoint.clone(),
            }),
            status => Err(DoveadmError::Status { status }),
        }
    }

    fn transport_error(&self, err: &reqwest::Error) -> DoveadmError {
        if err.is_timeout() {
            DoveadmError::Timeout {
                secs: TIMEOUT.as_secs(),
            }
        } else {
            // The error's source chain names the cause (connection refused, reset, …).
            let mut detail = String::new();
            let mut source: Option<&dyn std::error::Error> = Some(err);
            while let Some(e) = source {
                detail = e.to_string();
                source = e.source();
            }
            DoveadmError::Unreachable {
                endpoint: self.endpoint.clone(),
                detail,
            }
        }
    }
}

/// 2.4's `kick` takes a `passdbField` parameter; 2.3 has a `batch` command 2.4 dropped.
fn fingerprint(commands: &[Value]) -> Option<DovecotVersion> {
    let named = |name: &str| {
        commands
            .iter()
            .find(|c| c.get("command").and_then(Value::as_str) == Some(name))
    };
    let kick_has_passdb_field = named("kick")
        .and_then(|kick| kick.get("parameters"))
        .and_then(Value::as_array)
        .is_some_and(|params| {
            params
                .iter()
                .any(|p| p.get("name").and_then(Value::as_str) == Some("passdbField"))
        });
    if kick_has_passdb_field {
        Some(DovecotVersion::V2_4)
    } else if named("batch").is_some() {
        Some(DovecotVersion::V2_3)
    } else {
        None
    }
}

/// doveadm 2.3's `kick` answers exit code 68 ("nobody to kick") when the user has no open
/// session (2.4 answers a count of 0): both are success for us.
fn is_real_error(reply: &Value) -> bool {
    if reply.get(0).and_then(Value::as_str) != Some("error") {
        return false;
    }
    let nobody_to_kick = reply.get(2).and_then(Value::as_str) == Some("kick")
        && reply
            .get(1)
            .and_then(|e| e.get("exitCode"))
            .and_then(Value::as_i64)
            == Some(68);
    !nobody_to_kick
}

/// The optional client: `None` when no API is configured.
pub async fn end_sessions(doveadm: Option<&Doveadm>, user: &Username, kick: bool) -> SessionSync {
    match doveadm {
        Some(d) => d.end_sessions(user, kick).await,
        None => SessionSync::NotConfigured,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nobody_to_kick_is_not_an_error() {
        assert!(!is_real_error(
            &json!(["error", {"type": "exitCode", "exitCode": 68}, "kick"])
        ));
        assert!(!is_real_error(&json!(["doveadmResponse", [], "flush"])));
        assert!(!is_real_error(
            &json!(["doveadmResponse", [{"count": "0"}], "kick"])
        ));
    }

    #[test]
    fn other_errors_are_errors() {
        assert!(is_real_error(
            &json!(["error", {"type": "exitCode", "exitCode": 75}, "kick"])
        ));
        assert!(is_real_error(
            &json!(["error", {"type": "exitCode", "exitCode": 68}, "flush"])
        ));
    }

    #[test]
    fn both_url_forms_reach_the_same_endpoint() {
        for url in [
            "http://127.0.0.1:8026",
            "http://127.0.0.1:8026/",
            "http://127.0.0.1:8026/doveadm/v1",
            "http://127.0.0.1:8026/doveadm/v1/",
        ] {
            assert_eq!(
                endpoint_of(&url.parse().unwrap()),
                "http://127.0.0.1:8026/doveadm/v1",
                "{url}"
            );
        }
        assert_eq!(
            endpoint_of(&"https://mail.example.org/dovecot/".parse().unwrap()),
            "https://mail.example.org/dovecot/doveadm/v1"
        );
    }

    #[test]
    fn the_command_list_tells_the_version() {
        let v24 = json!([
            {"command": "kick", "parameters": [{"name": "socketPath"}, {"name": "passdbField"}, {"name": "destHost"}, {"name": "mask"}]},
            {"command": "who", "parameters": []}
        ]);
        let v23 = json!([
            {"command": "batch", "parameters": []},
            {"command": "kick", "parameters": [{"name": "socketPath"}, {"name": "force"}, {"name": "mask"}]}
        ]);
        let as_vec = |v: Value| v.as_array().unwrap().clone();
        assert_eq!(fingerprint(&as_vec(v24)), Some(DovecotVersion::V2_4));
        assert_eq!(fingerprint(&as_vec(v23)), Some(DovecotVersion::V2_3));
        assert_eq!(fingerprint(&[]), None);
    }
}
