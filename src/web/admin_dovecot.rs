//! Admin → Dovecot: how this Mailkeys is wired to Dovecot (doveadm API and its start-up
//! check, version, auth-cache flushing, policy reports) and the live self-check.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::Form;
use serde::Deserialize;

use super::client_ip::ClientIp;
use super::format::timestamp;
use super::session::AdminUser;
use super::{AppState, Nav};
use crate::domain::Text;
use crate::dovecot::doveadm::Doveadm;
use crate::dovecot::selfcheck::{self, StepResult};
use crate::error::{AppError, AppResult};
use crate::store::dovecot_reports::{self, ReportKind};

/// One line of the status table.
pub struct StatusLine {
    pub label: &'static str,
    pub value: String,
    /// Shown as a warning.
    pub problem: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/dovecot.page.html")]
pub struct DovecotPage {
    pub nav: Nav,
    pub status: Vec<StatusLine>,
    pub servers: Vec<String>,
    pub server: String,
    pub steps: Vec<StepResult>,
    pub failed: bool,
}

/// The warning the accounts page shows when the start-up check of the doveadm API failed.
pub fn doveadm_warning(state: &AppState) -> Option<String> {
    let probe = state.dovecot_status.last_probe()?;
    probe.result.err().map(|err| {
        format!(
            "The doveadm API check failed at {}: {err}",
            timestamp(probe.at)
        )
    })
}

async fn status(state: &AppState) -> AppResult<Vec<StatusLine>> {
    // The page shows the API as it is now, not only as it was at start-up.
    if let Some(doveadm) = &state.doveadm {
        let result = doveadm.probe().await.map_err(|e| e.to_string());
        state.dovecot_status.record_probe(state.now(), result);
    }
    let mut lines = match &state.doveadm {
        None => vec![StatusLine {
            label: "doveadm API",
            value: "not configured: a revocation cannot end IMAP sessions that are already \
                    open, and an auth cache cannot be flushed"
                .into(),
            problem: true,
        }],
        Some(doveadm) => doveadm_lines(state, doveadm),
    };
    lines.extend(policy_lines(state).await?);
    Ok(lines)
}

/// The doveadm API as last probed, the Dovecot version, and what that means for the cache.
fn doveadm_lines(state: &AppState, doveadm: &Doveadm) -> Vec<StatusLine> {
    let (value, problem) = match state.dovecot_status.last_probe() {
        None => ("not checked".to_owned(), true),
        Some(p) => match p.result {
            Ok(_) => (format!("answered at {}", timestamp(p.at)), false),
            Err(err) => (format!("FAILED at {}: {err}", timestamp(p.at)), true),
        },
    };
    let version = doveadm.version();
    vec![
        StatusLine {
            label: "doveadm API",
            value: format!("{} — {value}", doveadm.endpoint()),
            problem,
        },
        StatusLine {
            label: "Dovecot version",
            value: match (version, doveadm.configured_version()) {
                (Some(v), Some(_)) => format!("{v} (dovecot_version)"),
                (Some(v), None) => format!("{v} (from the doveadm API)"),
                (None, _) => "unknown".into(),
            },
            problem: version.is_none(),
        },
        StatusLine {
            label: "Auth cache",
            value: match version {
                Some(v) if v.can_flush_auth_cache() => {
                    "flushed through doveadm after every credential change".into()
                }
                Some(v) => format!(
                    "Dovecot {v} cannot flush it through doveadm: keep auth_cache_size = 0 \
                     (the generated configuration does)"
                ),
                None => "not flushed while the version is unknown".into(),
            },
            // On 2.4 this is how it must be, not a fault: the generated files keep it off.
            problem: version.is_none(),
        },
    ]
}

/// Whether Dovecot's policy reports arrive, and whether any came with a wrong secret.
async fn policy_lines(state: &AppState) -> AppResult<Vec<StatusLine>> {
    let accepted = dovecot_reports::last(&state.db, ReportKind::Accepted).await?;
    let refused = dovecot_reports::last(&state.db, ReportKind::Refused).await?;
    let mut lines = vec![StatusLine {
        label: "Policy reports",
        value: match (&state.settings.policy_listen, accepted) {
            (None, _) => "policy_listen is not set: no last use is recorded".into(),
            (Some(addr), Some(at)) => format!("listening on {addr}; last report {}", timestamp(at)),
            (Some(addr), None) => format!("listening on {addr}; no report received yet"),
        },
        problem: state.settings.policy_listen.is_none() || accepted.is_none(),
    }];
    if let Some(at) = refused {
        lines.push(StatusLine {
            label: "Refused reports",
            value: format!(
                "last at {}: a report came with a wrong policy secret",
                timestamp(at)
            ),
            problem: refused > accepted,
        });
    }
    Ok(lines)
}

async fn page(
    state: &AppState,
    admin: &AdminUser,
    server: String,
    steps: Vec<StepResult>,
) -> AppResult<DovecotPage> {
    let failed = steps.iter().any(|s| s.outcome == selfcheck::Outcome::Fail);
    Ok(DovecotPage {
        nav: Nav::of(&admin.0),
        status: status(state).await?,
        servers: state.settings.check_target_names(),
        server,
        steps,
        failed,
    })
}

pub async fn show(State(state): State<AppState>, admin: AdminUser) -> AppResult<DovecotPage> {
    page(&state, &admin, String::new(), Vec::new()).await
}

#[derive(Deserialize)]
pub struct CheckForm {
    #[serde(default)]
    server: String,
}

pub async fn check(
    State(state): State<AppState>,
    admin: AdminUser,
    ClientIp(ip): ClientIp,
    Form(form): Form<CheckForm>,
) -> AppResult<DovecotPage> {
    let server = Text::parse(&form.server, "The server")?;
    let targets = state.settings.check_targets();
    let target = targets
        .iter()
        .find(|s| s.name == server.as_str())
        .or_else(|| targets.first())
        .ok_or(AppError::NotFound)?;
    let report = selfcheck::run(&state, &admin.0.user, target, Some(&ip))
        .await
        .map_err(AppError::internal)?;
    page(&state, &admin, target.name.clone(), report.steps).await
}
