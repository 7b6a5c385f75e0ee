//! `mailkeys audit …`: the audit log from the host, for archiving or a SIEM.

use std::io::Write;

use clap::Subcommand;

use crate::config::Settings;
use crate::services::audit_filter::{self, FilterInput};
use crate::services::audit_log::{self, ExportFormat};
use crate::services::Services;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Write the audit log (or the entries matching the filters) to standard output, oldest
    /// first.
    Export {
        /// From this day (2026-11-30, UTC) or RFC 3339 time on.
        #[arg(long)]
        since: Option<String>,
        /// Up to the end of this day, or before this RFC 3339 time.
        #[arg(long)]
        until: Option<String>,
        /// Only entries about this account.
        #[arg(long)]
        account: Option<String>,
        /// Only entries by this account.
        #[arg(long)]
        actor: Option<String>,
        /// Only this event (e.g. app_password_revoked).
        #[arg(long)]
        event: Option<String>,
        /// Only entries from this client address.
        #[arg(long)]
        ip: Option<String>,
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
    },
    /// Delete the entries older than `audit_retention_days` now (the service also does it
    /// daily); the cleanup records its own entry.
    CleanUp,
}

pub async fn run(settings: &Settings, command: AuditCommand) -> anyhow::Result<()> {
    let services = Services::for_command_line(settings).await?;
    match command {
        AuditCommand::Export {
            since,
            until,
            account,
            actor,
            event,
            ip,
            format,
        } => {
            let input = FilterInput {
                account,
                actor,
                event,
                since,
                until,
                ip,
            };
            let filter = audit_filter::resolve(&services, &input)
                .await?
                .map_err(|why| anyhow::anyhow!("{why}"))?;
            let mut out = std::io::stdout().lock();
            let mut failed = None;
            let rows = audit_log::export(&services, &filter, format, |bytes| {
                let written = out.write_all(&bytes);
                let ok = written.is_ok();
                if let Err(err) = written {
                    failed = Some(err);
                }
                std::future::ready(ok)
            })
            .await?;
            if let Some(err) = failed {
                return Err(err.into());
            }
            out.flush()?;
            eprintln!("{rows} entries exported.");
            Ok(())
        }
        AuditCommand::CleanUp => {
            let deleted = audit_log::clean_up(&services).await?;
            if settings.audit_retention_days == 0 {
                println!("audit_retention_days is 0: the audit log is kept forever.");
            } else {
                println!(
                    "Deleted {deleted} audit entries older than {} days.",
                    settings.audit_retention_days
                );
            }
            Ok(())
        }
    }
}
