//! The live-installation self-check (`mailkeys dovecot check`, Admin → Dovecot): is Dovecot
//! really wired to this Mailkeys? It checks the views, the doveadm API and its version, and
//! then proves the whole chain on the real server: a temporary app password for the admin's
//! own account signs in over IMAP through the configured server (the connection-test
//! engine), its last-use report arrives through the policy listener, it is revoked and must
//! then be refused, and it is deleted. Each step says, in plain words, what a failure most
//! likely means. The run is written to the audit log.
//!
//! It runs on [`Services`] alone, so the CLI (another process than the web service) runs it
//! the same way as the admin page.

mod proof;

use std::fmt;

use crate::imap::MailServer;
use crate::services::Services;
use crate::store::audit::{self, Entry, Event};
use crate::store::users::UserRow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// Works, with a limit the admin should know about.
    Warn,
    Fail,
    /// Not run because an earlier step failed.
    Skipped,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
            Self::Skipped => "SKIP",
        }
    }

    /// For templates: a CSS class.
    pub fn class(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
            Self::Skipped => "skip",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepResult {
    pub name: &'static str,
    pub outcome: Outcome,
    pub detail: String,
}

impl fmt::Display for StepResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}  {}: {}",
            self.outcome.label(),
            self.name,
            self.detail
        )
    }
}

#[derive(Clone, Debug)]
pub struct Report {
    pub server: String,
    pub steps: Vec<StepResult>,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.steps.iter().any(|s| s.outcome == Outcome::Fail)
    }

    fn push(&mut self, name: &'static str, outcome: Outcome, detail: impl Into<String>) {
        self.steps.push(StepResult {
            name,
            outcome,
            detail: detail.into(),
        });
    }
}

pub const VIEWS: [&str; 3] = [
    "dovecot_app_passwords",
    "dovecot_lookup_ids",
    "dovecot_main_passwords",
];

/// Runs every step as `admin`, against `server`, and audits the run (from `ip`).
pub async fn run(
    ctx: &Services,
    admin: &UserRow,
    server: &MailServer,
    ip: Option<&str>,
) -> anyhow::Result<Report> {
    let mut report = Report {
        server: format!("{} ({}:{})", server.name, server.host, server.port),
        steps: Vec::new(),
    };
    check_views(ctx, &mut report).await;
    check_doveadm(ctx, &mut report).await;
    proof::run(ctx, admin, server, ip, &mut report).await?;
    let summary: Vec<String> = report
        .steps
        .iter()
        .map(|s| format!("{} {}", s.outcome.label(), s.name))
        .collect();
    audit::record(
        &ctx.db.pool,
        Entry {
            actor: Some(admin.id),
            subject: Some(admin.id),
            event: Event::DovecotSelfCheck,
            detail: format!("against {}: {}", report.server, summary.join("; ")),
            ip,
        },
        ctx.now(),
    )
    .await?;
    Ok(report)
}

async fn check_views(ctx: &Services, report: &mut Report) {
    for view in VIEWS {
        let counted: Result<i64, _> = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {view}"))
            .fetch_one(&ctx.db.pool)
            .await;
        if let Err(err) = counted {
            report.push(
                "Database views",
                Outcome::Fail,
                format!(
                    "{view} cannot be read ({err}): run `mailkeys migrate` with the same \
                     database_url as the service"
                ),
            );
            return;
        }
    }
    report.push(
        "Database views",
        Outcome::Pass,
        format!("{} are present and readable", VIEWS.join(", ")),
    );
}

async fn check_doveadm(ctx: &Services, report: &mut Report) {
    const STEP: &str = "doveadm API";
    let Some(doveadm) = ctx.doveadm.as_ref() else {
        report.push(
            STEP,
            Outcome::Warn,
            "not configured (doveadm_url, doveadm_api_key): a revocation cannot end IMAP \
             sessions that are already open, and an auth cache could not be flushed",
        );
        return;
    };
    match doveadm.probe().await {
        Err(err) => report.push(STEP, Outcome::Fail, err.to_string()),
        Ok(probe) => match (doveadm.configured_version(), probe.detected) {
            (Some(set), Some(seen)) if set != seen => report.push(
                STEP,
                Outcome::Fail,
                format!(
                    "dovecot_version is {set}, but {} looks like Dovecot {seen}: set \
                     dovecot_version = \"{seen}\" (or leave it unset)",
                    doveadm.endpoint()
                ),
            ),
            (_, detected) => {
                let version = doveadm.version().or(detected);
                let cache = match version {
                    Some(v) if !v.can_flush_auth_cache() => {
                        "; Dovecot 2.4 cannot flush its auth cache through doveadm, so keep \
                         auth_cache_size = 0"
                    }
                    Some(_) => "; kicks sessions and flushes the auth cache",
                    None => "; version unknown, so no auth-cache flush is sent",
                };
                let version =
                    version.map_or("an unknown version".to_owned(), |v| format!("Dovecot {v}"));
                report.push(
                    STEP,
                    Outcome::Pass,
                    format!(
                        "{} answers with the key: {version}{cache}",
                        doveadm.endpoint()
                    ),
                );
            }
        },
    }
}
