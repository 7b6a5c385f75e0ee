//! `mailkeys dovecot config` and `mailkeys dovecot check`.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;

use crate::config::Settings;
use crate::dovecot::config::{self, ConfigFile, DatabaseKind, DovecotConfig, GeneratorOptions};
use crate::dovecot::DovecotVersion;

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
        /// Write CHANGE_ME placeholders instead of values, as the files under deploy/dovecot
        /// (needs --database).
        #[arg(long, requires = "database")]
        placeholders: bool,
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
    }
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
