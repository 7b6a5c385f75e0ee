//! The doveadm HTTP API client. After a credential changes, Mailkeys flushes the user's
//! entries from Dovecot's auth cache and kicks the user's live IMAP sessions, so a revoked
//! password stops working now rather than when the cache expires or the client reconnects.

use std::time::Duration;

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use crate::domain::Username;

/// What happened on the mail server after a credential change; the UI tells the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionSync {
    /// Cache flushed and live sessions ended.
    Ended,
    /// No doveadm API is configured: open sessions stay until the client reconnects.
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

#[derive(Clone)]
pub struct Doveadm {
    client: reqwest::Client,
    endpoint: String,
    authorization: SecretString,
}

impl Doveadm {
    pub fn new(url: &url::Url, api_key: &SecretString) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(api_key.expose_secret());
        Ok(Self {
            client,
            endpoint: format!("{}/doveadm/v1", url.as_str().trim_end_matches('/')),
            authorization: SecretString::from(format!("X-Dovecot-API {encoded}")),
        })
    }

    /// Flushes the user's auth-cache entries and, if `kick`, ends their live sessions.
    pub async fn end_sessions(&self, user: &Username, kick: bool) -> SessionSync {
        let mut commands = vec![json!(["authCacheFlush", {"user": [user.as_str()]}, "flush"])];
        if kick {
            // Usernames cannot hold doveadm's wildcards (* and ?), so this mask is exact.
            commands.push(json!(["kick", {"mask": [user.as_str()]}, "kick"]));
        }
        match self.call(Value::Array(commands)).await {
            Ok(()) => SessionSync::Ended,
            Err(err) => {
                tracing::warn!(error = %err, "doveadm API call failed; open IMAP sessions may stay until clients reconnect");
                SessionSync::Failed
            }
        }
    }

    async fn call(&self, body: Value) -> anyhow::Result<()> {
        let response = self
            .client
            .post(&self.endpoint)
            .header("Authorization", self.authorization.expose_secret())
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            anyhow::bail!("doveadm answered HTTP {status}");
        }
        let replies: Vec<Value> = response.json().await?;
        match replies.iter().find(|reply| is_real_error(reply)) {
            Some(reply) => anyhow::bail!("doveadm reported an error: {reply}"),
            None => Ok(()),
        }
    }
}

/// doveadm's `kick` answers exit code 68 ("nobody to kick") when the user has no open
/// session: that is success for us.
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
}
