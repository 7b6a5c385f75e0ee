//! Filling the generator's values in from Mailkeys' settings: the database Mailkeys uses,
//! its policy listener and secret, and the doveadm URL and key, each generated where the
//! settings have none (the generated `mailkeys-settings.toml` then carries it back).

use std::path::Path;

use anyhow::{bail, Context};
use secrecy::ExposeSecret;

use super::{DatabaseKind, DoveadmLink, DovecotConfig, DovecotDatabase, PgConnect, PolicyLink};
use crate::config::Settings;
use crate::dovecot::version::DovecotVersion;
use crate::infra::random::random_symbols;

/// The command line's choices (`mailkeys dovecot config --help`).
#[derive(Clone, Debug)]
pub struct GeneratorOptions {
    pub version: DovecotVersion,
    /// `None`: the kind of `database_url`.
    pub database: Option<DatabaseKind>,
    pub etc_dir: String,
    /// PostgreSQL role Dovecot connects as.
    pub dovecot_db_user: String,
    /// The SQLite path as Dovecot sees it; `None`: Mailkeys' own (made absolute).
    pub sqlite_path: Option<String>,
}

impl GeneratorOptions {
    pub fn new(version: DovecotVersion) -> Self {
        Self {
            version,
            database: None,
            etc_dir: "/etc/dovecot".into(),
            dovecot_db_user: "mailkeys_dovecot".into(),
            sqlite_path: None,
        }
    }
}

pub fn from_settings(
    settings: &Settings,
    options: &GeneratorOptions,
) -> anyhow::Result<DovecotConfig> {
    let url = settings.database_url.as_str();
    let actual = if url.starts_with("sqlite:") {
        DatabaseKind::Sqlite
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        DatabaseKind::Postgres
    } else {
        bail!("database_url is neither sqlite:// nor postgres://");
    };
    if let Some(wanted) = options.database {
        if wanted != actual {
            bail!(
                "--database {} does not match database_url, which is {}: Dovecot must read \
                 the database Mailkeys writes",
                wanted.dir_name(),
                actual.dir_name()
            );
        }
    }
    let database = match actual {
        DatabaseKind::Sqlite => {
            // Checked even when Dovecot names it differently: it must exist for Mailkeys.
            let own = sqlite_path(url)?;
            DovecotDatabase::Sqlite {
                path: options.sqlite_path.clone().unwrap_or(own),
            }
        }
        DatabaseKind::Postgres => DovecotDatabase::Postgres(pg_connect(url, options)?),
    };
    let policy = PolicyLink {
        listen: settings
            .policy_listen
            .map_or_else(|| "127.0.0.1:8025".to_owned(), |addr| addr.to_string()),
        secret: match &settings.policy_secret {
            Some(secret) => secret.expose_secret().to_owned(),
            None => random_symbols(32)?,
        },
        nonce: random_symbols(32)?,
    };
    let doveadm = match (&settings.doveadm_url, &settings.doveadm_api_key) {
        (Some(url), Some(key)) => DoveadmLink {
            listen: url
                .host_str()
                .context("doveadm_url has no host")?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: url
                .port_or_known_default()
                .context("doveadm_url has no port")?
                .to_string(),
            api_key: key.expose_secret().to_owned(),
        },
        _ => DoveadmLink {
            listen: "127.0.0.1".into(),
            port: "8026".into(),
            api_key: random_symbols(32)?,
        },
    };
    Ok(DovecotConfig {
        version: options.version,
        database,
        etc_dir: options.etc_dir.trim_end_matches('/').to_owned(),
        policy: Some(policy),
        doveadm,
    })
}

/// The absolute path of the SQLite file (Dovecot does not share Mailkeys' working
/// directory). The file must exist: SQLite creates a missing one, and Dovecot would then
/// read an empty database and refuse every login as an unknown user.
fn sqlite_path(url: &str) -> anyhow::Result<String> {
    let rest = url
        .trim_start_matches("sqlite:")
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default();
    if rest.is_empty() || rest == ":memory:" {
        bail!("database_url names no SQLite file");
    }
    let path = Path::new(rest);
    let absolute = std::path::absolute(path)
        .with_context(|| format!("cannot make {rest} an absolute path"))?;
    if !absolute.exists() {
        bail!(
            "the SQLite database {} does not exist yet: run `mailkeys migrate` (with the same \
             settings) first, so that Dovecot is pointed at the file Mailkeys writes",
            absolute.display()
        );
    }
    Ok(absolute.display().to_string())
}

fn pg_connect(url: &str, options: &GeneratorOptions) -> anyhow::Result<PgConnect> {
    let parsed = url::Url::parse(url).context("database_url is not a valid URL")?;
    let host = parsed.host_str().unwrap_or("127.0.0.1");
    let dbname = parsed.path().trim_start_matches('/');
    if dbname.is_empty() {
        bail!("database_url names no database");
    }
    Ok(PgConnect {
        host: host.to_owned(),
        port: parsed.port().unwrap_or(5432).to_string(),
        dbname: dbname.to_owned(),
        user: options.dovecot_db_user.clone(),
        password: Some(random_symbols(32)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> Settings {
        Settings {
            database_url: url.into(),
            ..Settings::default()
        }
    }

    #[test]
    fn postgres_settings_give_a_read_only_role_with_a_fresh_password() {
        let options = GeneratorOptions::new(DovecotVersion::V2_4);
        let config = from_settings(
            &settings("postgres://mailkeys:pw@db.internal:6543/keys"),
            &options,
        )
        .unwrap();
        let DovecotDatabase::Postgres(pg) = &config.database else {
            panic!("expected PostgreSQL");
        };
        assert_eq!(pg.host, "db.internal");
        assert_eq!(pg.port, "6543");
        assert_eq!(pg.dbname, "keys");
        assert_eq!(pg.user, "mailkeys_dovecot");
        assert_eq!(pg.password.as_ref().map(String::len), Some(32));
        // Mailkeys' own password never goes to Dovecot.
        let all: String = config
            .render()
            .unwrap()
            .into_iter()
            .map(|f| f.contents)
            .collect();
        assert!(!all.contains(":pw@") && !all.contains("password=pw"));
    }

    #[test]
    fn missing_secrets_are_generated_fresh_each_run() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("m.db");
        std::fs::write(&db, b"").unwrap();
        let s = settings(&format!("sqlite://{}", db.display()));
        let options = GeneratorOptions::new(DovecotVersion::V2_4);
        let (a, b) = (
            from_settings(&s, &options).unwrap(),
            from_settings(&s, &options).unwrap(),
        );
        let (pa, pb) = (a.policy.unwrap(), b.policy.unwrap());
        assert_eq!(pa.listen, "127.0.0.1:8025");
        assert_eq!(a.doveadm.port, "8026");
        assert_eq!(pa.secret.len(), 32);
        assert_ne!(pa.secret, pb.secret);
        assert_ne!(a.doveadm.api_key, b.doveadm.api_key);
    }

    #[test]
    fn configured_secrets_and_ports_are_reused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("m.db");
        std::fs::write(&db, b"").unwrap();
        let mut s = settings(&format!("sqlite://{}", db.display()));
        s.policy_listen = Some("127.0.0.1:9125".parse().unwrap());
        s.policy_secret = Some("policy-secret-1-0123456789abcdefgh".to_owned().into());
        s.doveadm_url = Some("http://127.0.0.1:9126/doveadm/v1".parse().unwrap());
        s.doveadm_api_key = Some("doveadm-key-1".to_owned().into());
        let config = from_settings(&s, &GeneratorOptions::new(DovecotVersion::V2_3)).unwrap();
        assert_eq!(
            config.database,
            DovecotDatabase::Sqlite {
                path: db.display().to_string()
            }
        );
        let policy = config.policy.unwrap();
        assert_eq!(
            (policy.listen.as_str(), policy.secret.as_str()),
            ("127.0.0.1:9125", "policy-secret-1-0123456789abcdefgh")
        );
        assert_eq!(config.doveadm.port, "9126");
        assert_eq!(config.doveadm.api_key, "doveadm-key-1");
    }

    #[test]
    fn a_missing_sqlite_file_or_a_mismatched_database_is_refused() {
        let options = GeneratorOptions::new(DovecotVersion::V2_4);
        let err = from_settings(&settings("sqlite:///nonexistent/dir/m.db"), &options)
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
        let mut options = GeneratorOptions::new(DovecotVersion::V2_4);
        options.database = Some(DatabaseKind::Postgres);
        let err = from_settings(&settings("sqlite:///x.db"), &options)
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not match"), "{err}");
    }
}
