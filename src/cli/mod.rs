//! The `mailkeys` command line.

mod api_token;
mod audit;
mod dovecot;
mod user_admin;

use std::io::{IsTerminal, Read};
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::bail;
use clap::{Parser, Subcommand};
use secrecy::SecretString;
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, Settings};
use crate::domain::Username;
use crate::infra::random::random_symbols;
use crate::services::users::{NewAccount, Origin};
use crate::services::{self, Services};
use crate::startup;
use crate::store::{backup, users, Db};

#[derive(Parser)]
#[command(
    name = "mailkeys",
    version,
    about = "App passwords for IMAP, verified by Dovecot"
)]
pub struct Cli {
    /// Optional TOML settings file (environment variables override it).
    #[arg(long, env = "MAILKEYS_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the web service (migrates the database first).
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080; env: MAILKEYS_LISTEN].
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Create or update the database schema, then exit.
    Migrate,
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Back up the SQLite database into a new FILE, consistently, while the service runs
    /// (PostgreSQL: use pg_dump).
    Backup {
        /// The backup file to create; an existing file is never overwritten.
        file: PathBuf,
    },
    /// Put a backup made by `mailkeys backup` in place of the SQLite database, with the
    /// service stopped; the current file is kept aside (PostgreSQL: use pg_restore).
    Restore {
        /// The backup file to restore.
        file: PathBuf,
    },
    /// Read the audit log: export it, clean it up to the retention setting.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Tokens of the JSON API (/api/v1): create, list, revoke.
    ApiToken {
        #[command(subcommand)]
        command: api_token::ApiTokenCommand,
    },
    /// Connect Dovecot: write its configuration, check the live installation.
    Dovecot {
        #[command(subcommand)]
        command: dovecot::DovecotCommand,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create an account. The password comes from a prompt, from stdin
    /// (--password-stdin) or is generated and printed (--generate).
    Add {
        /// The email address, which is also the IMAP username.
        email: String,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input.
        #[arg(long, conflicts_with = "generate")]
        password_stdin: bool,
        /// Generate a strong password and print it once.
        #[arg(long)]
        generate: bool,
    },
    /// List accounts.
    List,
    #[command(flatten)]
    Act(user_admin::AccountAction),
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::load(cli.config.as_deref())?;
    init_logging(settings.log_format);
    match cli.command {
        Command::Serve { listen } => {
            if let Some(listen) = listen {
                settings.listen = listen;
            }
            serve(settings).await
        }
        Command::Migrate => {
            Db::connect(&settings.database_url).await?.migrate().await?;
            println!("Database is up to date.");
            Ok(())
        }
        Command::User {
            command: UserCommand::List,
        } => list_users(&settings).await,
        Command::User {
            command: UserCommand::Act(action),
        } => user_admin::run(&settings, action).await,
        Command::User {
            command:
                UserCommand::Add {
                    email,
                    admin,
                    password_stdin,
                    generate,
                },
        } => add_user(&settings, &email, admin, password_stdin, generate).await,
        Command::Backup { file } => {
            let saved = backup::backup(&settings.database_url, &file).await?;
            println!(
                "Backed up to {}: {} accounts, {} app passwords, schema version {}.",
                file.display(),
                saved.accounts,
                saved.app_passwords,
                saved.schema_version
            );
            Ok(())
        }
        Command::Restore { file } => {
            use crate::clock::Clock as _;
            let now = crate::clock::SystemClock.now();
            let restored = backup::restore(&settings.database_url, &file, now).await?;
            let target = backup::sqlite_file(&settings.database_url)?.unwrap_or_default();
            println!(
                "Restored {} into {}: {} accounts, {} app passwords, schema version {}.",
                file.display(),
                target.display(),
                restored.contents.accounts,
                restored.contents.app_passwords,
                restored.contents.schema_version
            );
            if let Some(previous) = restored.previous {
                println!("The previous database is kept as {}.", previous.display());
            }
            Ok(())
        }
        Command::Dovecot { command } => dovecot::run(&settings, command).await,
        Command::Audit { command } => audit::run(&settings, command).await,
        Command::ApiToken { command } => api_token::run(&settings, command).await,
    }
}

/// Log lines on standard error, as text or one JSON object each (`log_format`), filtered by
/// `RUST_LOG`.
fn init_logging(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = startup::build(settings).await?;
    let addr = app.local_addr()?;
    if let Some(link) = startup::setup_link_if_needed(&app.state).await? {
        println!("No administrator exists yet. Open this one-time link to create one (valid for {} minutes):\n\n    {link}\n", app.state.settings.setup_link_ttl_secs / 60);
    }
    if let Some(policy) = app.policy_addr() {
        println!(
            "Listening for Dovecot auth-policy reports on http://{policy}{}",
            crate::dovecot::policy::PATH
        );
    }
    if let Some(metrics) = app.metrics_addr() {
        println!(
            "Serving Prometheus metrics on http://{metrics}{}",
            crate::web::metrics::PATH
        );
    }
    tracing::info!(%addr, "Mailkeys is listening");
    println!("Mailkeys is listening on http://{addr}");
    app.run().await
}

async fn list_users(settings: &Settings) -> anyhow::Result<()> {
    let db = Db::connect(&settings.database_url).await?;
    db.migrate().await?;
    for user in users::list(&db).await? {
        let mut flags = Vec::new();
        if user.is_admin {
            flags.push("admin");
        }
        if user.disabled {
            flags.push("disabled");
        }
        if user.main_imap_allowed && !user.main_imap_admin_blocked {
            flags.push("main-password-imap");
        }
        println!("{}\t{}", user.email, flags.join(","));
    }
    Ok(())
}

async fn add_user(
    settings: &Settings,
    email: &str,
    admin: bool,
    password_stdin: bool,
    generate: bool,
) -> anyhow::Result<()> {
    let email = Username::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (password, generated) = if generate {
        (SecretString::from(random_symbols(24)?), true)
    } else if password_stdin {
        let mut line = String::new();
        std::io::stdin().read_to_string(&mut line)?;
        let first = line.lines().next().unwrap_or_default().to_owned();
        (SecretString::from(first), false)
    } else if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Again: ")?;
        if first != again {
            bail!("the two passwords differ");
        }
        (SecretString::from(first), false)
    } else {
        bail!("no terminal to prompt on: use --password-stdin or --generate");
    };
    let services = Services::for_command_line(settings).await?;
    let printable = generated.then(|| password.clone());
    let new = NewAccount {
        email: email.clone(),
        password,
        admin,
    };
    services::users::create(&services, new, Origin::CommandLine)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .map_err(|refused| anyhow::anyhow!("{refused}"))?;
    println!("Created {email}{}.", if admin { " (admin)" } else { "" });
    if let Some(password) = printable {
        use secrecy::ExposeSecret;
        println!("Password (shown once): {}", password.expose_secret());
    }
    Ok(())
}
