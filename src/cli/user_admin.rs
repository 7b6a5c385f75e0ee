//! The operator's account commands on the host: disable or enable an account, revoke its
//! app passwords, and the compromised-account response. Each calls the same service as
//! the admin pages, with the command line as the actor (the audit log names no person).

use anyhow::{bail, Context};
use clap::Subcommand;

use crate::config::Settings;
use crate::domain::{Role, Text, Username};
use crate::dovecot::doveadm::SessionSync;
use crate::services::credentials::{self, clean_reason, By};
use crate::services::{admin, invitations, Services};
use crate::store::app_passwords;
use crate::store::users::{self, AdminFlag, UserRow};

#[derive(Subcommand)]
pub enum AccountAction {
    /// Disable an account: its sign-ins, app passwords and main password stop working, and
    /// its browser and IMAP sessions end.
    Disable {
        /// The account's email address.
        email: String,
    },
    /// Enable a disabled account again.
    Enable {
        /// The account's email address.
        email: String,
    },
    /// Revoke app passwords of an account: all of them (--all) or the one named --name.
    Revoke {
        /// The account's email address.
        email: String,
        /// Revoke every live app password.
        #[arg(long, conflicts_with = "name", required_unless_present = "name")]
        all: bool,
        /// Revoke the live app password with this name.
        #[arg(long)]
        name: Option<String>,
        /// Why (kept in the audit log).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Invite an address: prints a link (valid 7 days, works once) that the person opens to
    /// choose their password.
    Invite {
        /// The email address, which will also be the IMAP username.
        email: String,
        /// Make the new account an administrator.
        #[arg(long)]
        admin: bool,
    },
    /// Set an account's role: user, admin (acts on user accounts) or superadmin (also grants
    /// admin rights and acts on admins). The last superadmin keeps the role.
    Role {
        /// The account's email address.
        email: String,
        /// user, admin or superadmin.
        role: String,
    },
    /// Respond to a compromised account in one step: revoke every app password, end every
    /// browser session, require a new main password, close open IMAP connections (when the
    /// doveadm API is configured), with one audit entry.
    Compromised {
        /// The account's email address.
        email: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
}

pub async fn run(settings: &Settings, action: AccountAction) -> anyhow::Result<()> {
    let services = Services::for_command_line(settings).await?;
    match action {
        AccountAction::Disable { email } => set_disabled(&services, &email, true).await,
        AccountAction::Enable { email } => set_disabled(&services, &email, false).await,
        AccountAction::Revoke {
            email,
            all,
            name,
            reason,
        } => revoke(&services, &email, all, name, &reason).await,
        AccountAction::Invite { email, admin } => {
            let email = Username::parse(&email).map_err(|e| anyhow::anyhow!("{e}"))?;
            let invited = invitations::invite(&services, &email, admin, By::CommandLine)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            use secrecy::ExposeSecret;
            println!(
                "Invitation for {email} (works once, for 7 days):\n\n    {}/invite/{}\n",
                settings.base_url(),
                invited.token.expose_secret()
            );
            Ok(())
        }
        AccountAction::Role { email, role } => {
            let user = account(&services, &email).await?;
            let role = Role::parse(&role)
                .with_context(|| format!("{role:?} is not a role: user, admin or superadmin"))?;
            admin::set_role(&services, &user, role, By::CommandLine)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{} is now {role}.", user.email);
            Ok(())
        }
        AccountAction::Compromised { email, reason } => {
            compromised(&services, &email, &reason).await
        }
    }
}

async fn account(services: &Services, email: &str) -> anyhow::Result<UserRow> {
    let email = Username::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?;
    users::find_with_hash(&services.db, email.as_str())
        .await?
        .map(|(user, _)| user)
        .with_context(|| format!("no account {email}"))
}

fn reason_of(text: &str) -> anyhow::Result<String> {
    let parsed = Text::parse(text, "The reason").map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(clean_reason(&parsed))
}

/// One line on what Dovecot did, for the operator.
fn mail_server_line(sync: SessionSync) -> &'static str {
    match sync {
        SessionSync::Ended => "open IMAP connections closed",
        SessionSync::NotConfigured => {
            "open IMAP connections not closed (doveadm_url is not configured)"
        }
        SessionSync::Failed => "open IMAP connections not closed (the doveadm API did not answer)",
    }
}

async fn set_disabled(services: &Services, email: &str, on: bool) -> anyhow::Result<()> {
    let user = account(services, email).await?;
    let sync = admin::set_flag(services, &user, AdminFlag::Disabled, on, By::CommandLine)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if on {
        println!("Disabled {}; {}.", user.email, mail_server_line(sync));
    } else {
        println!("Enabled {}.", user.email);
    }
    Ok(())
}

async fn revoke(
    services: &Services,
    email: &str,
    all: bool,
    name: Option<String>,
    reason: &str,
) -> anyhow::Result<()> {
    let user = account(services, email).await?;
    let reason = reason_of(reason)?;
    if all {
        let (count, sync) = credentials::revoke_all(services, &user, By::CommandLine, &reason)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!(
            "Revoked {count} app passwords of {}; {}.",
            user.email,
            mail_server_line(sync)
        );
        return Ok(());
    }
    let Some(name) = name else {
        bail!("say which: --all or --name NAME");
    };
    let live = app_passwords::list_for_user(&services.db, user.id)
        .await?
        .into_iter()
        .find(|p| p.revoked_at.is_none() && p.name == name)
        .with_context(|| format!("{} has no live app password named {name:?}", user.email))?;
    let sync = credentials::revoke_one(services, &user, live.id, By::CommandLine, &reason)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "Revoked {name:?} of {}; {}.",
        user.email,
        mail_server_line(sync)
    );
    Ok(())
}

async fn compromised(services: &Services, email: &str, reason: &str) -> anyhow::Result<()> {
    let user = account(services, email).await?;
    let reason = reason_of(reason)?;
    if reason.is_empty() {
        bail!("--reason must say why (it goes into the audit log)");
    }
    let report = admin::compromised(services, &user, By::CommandLine, &reason)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("Compromised-account response for {}:", user.email);
    println!("  app passwords revoked: {}", report.app_passwords_revoked);
    println!("  browser sessions ended: {}", report.web_sessions_ended);
    println!("  new main password required: yes");
    println!("  mail server: {}", mail_server_line(report.mail_server));
    Ok(())
}
