//! `mailkeys api-token …`: JSON API tokens from the host (as on Admin → API tokens), for
//! provisioning a script without a browser.

use clap::Subcommand;
use secrecy::ExposeSecret;

use crate::config::Settings;
use crate::domain::api_token::{ApiScope, ApiTokenName};
use crate::domain::Username;
use crate::services::api_tokens;
use crate::services::credentials::By;
use crate::services::Services;
use crate::store::users;

#[derive(Subcommand)]
pub enum ApiTokenCommand {
    /// Create a token acting as the admin OWNER; prints it once.
    Create {
        /// What uses it (shown in the list and the audit log).
        name: String,
        /// The admin account the token acts as.
        #[arg(long)]
        owner: String,
        /// `read-only` (GET only) or `read-write`.
        #[arg(long, default_value = "read-only")]
        scope: String,
        /// Days until it expires (none: never).
        #[arg(long)]
        days: Option<u32>,
    },
    /// List tokens: id, name, scope, owner, state, last use.
    List,
    /// Revoke the token with this id.
    Revoke { id: i64 },
}

pub async fn run(settings: &Settings, command: ApiTokenCommand) -> anyhow::Result<()> {
    let services = Services::for_command_line(settings).await?;
    match command {
        ApiTokenCommand::Create {
            name,
            owner,
            scope,
            days,
        } => {
            let name = ApiTokenName::parse(&name)?;
            let Some(scope) = ApiScope::parse(&scope) else {
                anyhow::bail!("--scope is read-only or read-write");
            };
            if days == Some(0) || days.is_some_and(|d| d > 3650) {
                anyhow::bail!("--days is from 1 to 3650");
            }
            let email = Username::parse(&owner)?;
            let Some((owner, _)) = users::find_with_hash(&services.db, email.as_str()).await?
            else {
                anyhow::bail!("there is no account {email}");
            };
            let created =
                api_tokens::create(&services, &owner, &name, scope, days, By::CommandLine).await?;
            println!("{}", created.token.expose_secret());
        }
        ApiTokenCommand::List => {
            let now = services.now();
            for t in api_tokens::list(&services).await? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else if t.expires_at.is_some_and(|at| at <= now) {
                    "expired"
                } else {
                    "active"
                };
                let used = match (t.last_used_at, t.last_used_ip) {
                    (Some(at), Some(ip)) => format!("last used {at} from {ip}"),
                    _ => "never used".to_owned(),
                };
                println!(
                    "{}\t{}\t{}\t{}\t{state}\t{used}",
                    t.id,
                    t.name,
                    ApiScope::of(t.read_write).as_str(),
                    t.creator_email
                );
            }
        }
        ApiTokenCommand::Revoke { id } => {
            if api_tokens::revoke(&services, id, By::CommandLine).await? {
                println!("Token {id} revoked.");
            } else {
                println!("Token {id} was revoked already.");
            }
        }
    }
    Ok(())
}
