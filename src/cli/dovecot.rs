//! `mailkeys dovecot config` and `mailkeys dovecot check`.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Subcommand;

use crate::config::Settings;
use crate::dovecot::config::{self, ConfigFile, DatabaseKind, DovecotConfig, GeneratorOptions};
use crate::dovecot::selfcheck;
use crate::dovecot::DovecotVersion;
use crate::services::Services;
use crate::store::users;

#[derive(Subcommand)]
pub enum DovecotCommand {
    /// Write Dovecot's configuration for Mailkeys, filled in from Mailkeys' settings: the
    /// database, the policy listener and secret, the doveadm port and key (generated where
    /// the settings have none; mailkeys-settings.toml then lists them for Mailkeys).
    Config {
        /// The Dovecot release series: `dovecot --version` tells (2.3.x or 2.4.x).
        #[arg(long = "version", value_enum)]
        dovecot_version: DovecotVersion,
        /// Which database Dovecot reads [default: the kind of database_url].
        #[arg(long, value_enum)]
        database: Option<DatabaseKind>,
        /// Write the files into this folder (created; files get mode 0600) instead of
        /// printing them.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Where the files will be installed, for 2.3's passdb `args` paths.
        #[arg(long, default_value = "/etc/dovecot")]
        etc_dir: String,
        /// The PostgreSQL role Dovecot connects as (read-only; see mailkeys-dovecot-role.sql).
        #[arg(long, default_value = "mailkeys_dovecot")]
        dovecot_db_user: String,
        /// The SQLite file's path as Dovecot sees it, when that differs from Mailkeys' (Dovecot
        /// in a container or chroot) [default: the absolute path of database_url's file].
        #[arg(long)]
        sqlite_path: Option<String>,
        /// Write CHANGE_ME placeholders instead of values, as the files under deploy/dovecot
        /// (needs --database).
        #[arg(long, requires = "database")]
        placeholders: bool,
    },
    /// Check the live installation end to end: the views, the doveadm API and Dovecot's
    /// version, then a temporary app password of an admin signs in over IMAP, is reported,
    /// revoked and refused, and deleted. Exits 1 when a step failed.
    Check {
        /// The admin account the temporary app password is made for [default: the first
        /// admin].
        #[arg(long = "as", value_name = "ADMIN_EMAIL")]
        admin: Option<String>,
        /// Which configured mail server to sign in to [default: the first].
        #[arg(long)]
        server: Option<String>,
    },
}

pub async fn run(settings: &Settings, command: DovecotCommand) -> anyhow::Result<()> {
    match command {
        DovecotCommand::Config {
            dovecot_version,
            database,
            out,
            etc_dir,
            dovecot_db_user,
            sqlite_path,
            placeholders,
        } => {
            let config = if placeholders {
                let kind = database.unwrap_or(DatabaseKind::Sqlite);
                DovecotConfig::placeholders(dovecot_version, kind)
            } else {
                let options = GeneratorOptions {
                    version: dovecot_version,
                    database,
                    etc_dir,
                    dovecot_db_user,
                    sqlite_path,
                };
                config::from_settings(settings, &options)?
            };
            let files = config.render()?;
            match out {
                Some(dir) => write_files(&dir, &files),
                None => {
                    print_files(&files);
                    Ok(())
                }
            }
        }
        DovecotCommand::Check { admin, server } => check(settings, admin, server).await,
    }
}

async fn check(
    settings: &Settings,
    admin: Option<String>,
    server: Option<String>,
) -> anyhow::Result<()> {
    let ctx = Services::for_command_line(settings).await?;
    let db = &ctx.db;
    let admin = match admin {
        Some(email) => {
            let email = email.trim().to_lowercase();
            users::list(db)
                .await?
                .into_iter()
                .find(|u| u.email == email)
                .filter(|u| u.is_admin)
                .with_context(|| format!("{email} is not an admin account"))?
        }
        None => users::list(db)
            .await?
            .into_iter()
            .find(|u| u.is_admin)
            .context("no admin account exists: create one first (mailkeys user add --admin)")?,
    };
    let targets = settings.check_targets();
    let target = match &server {
        Some(name) => targets.iter().find(|s| &s.name == name).with_context(|| {
            let names: Vec<&str> = targets.iter().map(|s| s.name.as_str()).collect();
            format!(
                "no mail server named {name:?} (configured: {})",
                names.join(", ")
            )
        })?,
        None => targets.first().context("no mail server is configured")?,
    };
    println!(
        "Dovecot self-check as {} against {} ({}:{})",
        admin.email, target.name, target.host, target.port
    );
    let report = selfcheck::run(&ctx, &admin, target, None).await?;
    for step in &report.steps {
        println!("{step}");
    }
    if report.failed() {
        bail!("the Dovecot self-check failed");
    }
    println!("All steps passed.");
    Ok(())
}

fn print_files(files: &[ConfigFile]) {
    for (i, file) in files.iter().enumerate() {
        if i > 0 {
            println!();
        }
        println!("# ==> {} <==", file.path);
        print!("{}", file.contents);
    }
}

fn write_files(dir: &Path, files: &[ConfigFile]) -> anyhow::Result<()> {
    for file in files {
        let path = dir.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        // Every file holds a secret (doveadm key, policy secret or database password).
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        out.write_all(file.contents.as_bytes())?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
