//! The Dovecot configuration generator behind `mailkeys dovecot config`: the files an admin
//! copies into `/etc/dovecot`, for Dovecot 2.3 or 2.4 and for SQLite or PostgreSQL, filled
//! in from Mailkeys' own settings. The files under `deploy/dovecot/` are this output with
//! placeholder values ([`DovecotConfig::placeholders`]); a test keeps them identical, and the
//! test harness starts real Dovecot instances from the same output.
//!
//! The SQL views (`dovecot_app_passwords`, `dovecot_lookup_ids`, `dovecot_main_passwords`)
//! are the one version-free contract; only the way each Dovecot release is told to query them
//! differs.

mod from_settings;
mod templates;

pub use from_settings::{from_settings, GeneratorOptions};

use anyhow::bail;

use super::version::DovecotVersion;

/// The database Dovecot reads, as Dovecot must be told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DovecotDatabase {
    /// Path of the SQLite file as Dovecot sees it.
    Sqlite {
        path: String,
    },
    Postgres(PgConnect),
}

/// A PostgreSQL connection for Dovecot's read-only role.
#[derive(Clone, PartialEq, Eq)]
pub struct PgConnect {
    pub host: String,
    pub port: String,
    pub dbname: String,
    pub user: String,
    /// `None` relies on the server trusting the connection (tests).
    pub password: Option<String>,
}

/// Where Dovecot sends its auth-policy reports (Mailkeys' `policy_listen`).
#[derive(Clone, PartialEq, Eq)]
pub struct PolicyLink {
    /// `host:port` of Mailkeys' policy listener.
    pub listen: String,
    pub secret: String,
    /// Dovecot 2.3 refuses to start with a policy server and no nonce (nothing hashed with it
    /// is sent: the request attributes leave the password hash out).
    pub nonce: String,
}

impl PolicyLink {
    pub fn url(&self) -> String {
        format!("http://{}{}", self.listen, crate::dovecot::policy::PATH)
    }
}

/// Dovecot's doveadm HTTP listener, which Mailkeys calls to kick sessions (and, on 2.3,
/// flush the auth cache).
#[derive(Clone, PartialEq, Eq)]
pub struct DoveadmLink {
    pub listen: String,
    pub port: String,
    pub api_key: String,
}

/// Everything the generated files depend on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DovecotConfig {
    pub version: DovecotVersion,
    pub database: DovecotDatabase,
    /// Where the files are installed (`/etc/dovecot`): 2.3's passdbs name their `.ext` files
    /// by absolute path.
    pub etc_dir: String,
    /// `None` writes no auth-policy settings (tests that need no last-use reports).
    pub policy: Option<PolicyLink>,
    pub doveadm: DoveadmLink,
}

/// One generated file and its path relative to the output directory. Every file holds a
/// secret (the doveadm key, the policy secret or a database password).
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigFile {
    pub path: String,
    pub contents: String,
}

// The parts that hold a secret never print it: a `{:?}` in a log or a panic message must
// not carry a database password, the policy secret or the doveadm key.
impl std::fmt::Debug for PgConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConnect")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("dbname", &self.dbname)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "[hidden]"))
            .finish()
    }
}

impl std::fmt::Debug for PolicyLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyLink")
            .field("listen", &self.listen)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for DoveadmLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DoveadmLink")
            .field("listen", &self.listen)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ConfigFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Which database a configuration is for, as `--database` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

impl DatabaseKind {
    /// The folder name under `deploy/dovecot/<version>/`.
    pub fn dir_name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

impl DovecotConfig {
    /// The configuration shipped under `deploy/dovecot/<version>/<database>/`: Debian's paths,
    /// the default ports, and `CHANGE_ME_…` for every secret and site-specific value.
    pub fn placeholders(version: DovecotVersion, kind: DatabaseKind) -> Self {
        let database = match kind {
            DatabaseKind::Sqlite => DovecotDatabase::Sqlite {
                path: "/var/lib/mailkeys/mailkeys.db".into(),
            },
            DatabaseKind::Postgres => DovecotDatabase::Postgres(PgConnect {
                host: "127.0.0.1".into(),
                port: "5432".into(),
                dbname: "mailkeys".into(),
                user: "mailkeys_dovecot".into(),
                password: Some("CHANGE_ME_DOVECOT_DB_PASSWORD".into()),
            }),
        };
        Self {
            version,
            database,
            etc_dir: "/etc/dovecot".into(),
            policy: Some(PolicyLink {
                listen: "127.0.0.1:8025".into(),
                secret: "CHANGE_ME_POLICY_SECRET".into(),
                nonce: "CHANGE_ME_POLICY_NONCE".into(),
            }),
            doveadm: DoveadmLink {
                listen: "127.0.0.1".into(),
                port: "8026".into(),
                api_key: "CHANGE_ME_DOVEADM_API_KEY".into(),
            },
        }
    }

    pub fn kind(&self) -> DatabaseKind {
        match self.database {
            DovecotDatabase::Sqlite { .. } => DatabaseKind::Sqlite,
            DovecotDatabase::Postgres(_) => DatabaseKind::Postgres,
        }
    }

    /// Renders every file. Refuses values that would break Dovecot's configuration syntax
    /// (a space, quote, `#`, `%`, brace or line break).
    pub fn render(&self) -> anyhow::Result<Vec<ConfigFile>> {
        self.check_values()?;
        templates::render(self)
    }

    fn check_values(&self) -> anyhow::Result<()> {
        let mut values: Vec<(&str, &str)> = vec![
            ("etc_dir", &self.etc_dir),
            ("doveadm listen address", &self.doveadm.listen),
            ("doveadm port", &self.doveadm.port),
            ("doveadm API key", &self.doveadm.api_key),
        ];
        if let Some(policy) = &self.policy {
            values.push(("policy listener", &policy.listen));
            values.push(("policy secret", &policy.secret));
            values.push(("policy nonce", &policy.nonce));
        }
        match &self.database {
            DovecotDatabase::Sqlite { path } => values.push(("SQLite path", path)),
            DovecotDatabase::Postgres(pg) => {
                values.extend([
                    ("PostgreSQL host", pg.host.as_str()),
                    ("PostgreSQL port", &pg.port),
                    ("PostgreSQL database", &pg.dbname),
                    ("PostgreSQL user", &pg.user),
                ]);
                if let Some(password) = &pg.password {
                    values.push(("PostgreSQL password", password));
                }
            }
        }
        for (what, value) in values {
            if value.is_empty() || value.chars().any(unsafe_in_config) {
                bail!(
                    "the {what} cannot be written into a Dovecot configuration: it is empty or \
                     holds a space, quote, backslash, '#', '%', '$', '<', brace or control character"
                );
            }
        }
        Ok(())
    }
}

fn unsafe_in_config(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '"' | '\'' | '\\' | '#' | '%' | '$' | '<' | '{' | '}' | ';'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_combination_renders_without_leftover_template_syntax() {
        for version in DovecotVersion::ALL {
            for kind in [DatabaseKind::Sqlite, DatabaseKind::Postgres] {
                let files = DovecotConfig::placeholders(version, kind).render().unwrap();
                assert!(!files.is_empty());
                for file in files {
                    assert!(
                        !file.contents.contains("{{") && !file.contents.contains("{%"),
                        "{version} {kind:?} {}",
                        file.path
                    );
                }
            }
        }
    }

    #[test]
    fn values_that_would_break_the_syntax_are_refused() {
        let mut config = DovecotConfig::placeholders(DovecotVersion::V2_4, DatabaseKind::Sqlite);
        config.database = DovecotDatabase::Sqlite {
            path: "/var/lib/my mail/keys.db".into(),
        };
        let err = config.render().unwrap_err().to_string();
        assert!(err.contains("SQLite path"), "{err}");
        let mut config = DovecotConfig::placeholders(DovecotVersion::V2_3, DatabaseKind::Postgres);
        config.doveadm.api_key = "abc\ndriver = passwd".into();
        assert!(config.render().is_err());
    }

    #[test]
    fn debug_output_hides_every_secret() {
        let mut config = DovecotConfig::placeholders(DovecotVersion::V2_3, DatabaseKind::Postgres);
        config.doveadm.api_key = "doveadm-key-9".into();
        let debug = format!("{config:?} {:?}", config.render().unwrap());
        for secret in [
            "CHANGE_ME_DOVECOT_DB_PASSWORD",
            "CHANGE_ME_POLICY_SECRET",
            "CHANGE_ME_POLICY_NONCE",
            "doveadm-key-9",
        ] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert!(debug.contains("mailkeys_dovecot"), "{debug}");
    }
}
