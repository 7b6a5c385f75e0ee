//! The askama templates under `templates/dovecot/` and the values they are rendered with.

use askama::Template;

use super::{ConfigFile, DoveadmLink, DovecotConfig, DovecotDatabase, PolicyLink};
use crate::dovecot::version::DovecotVersion;

/// `conf.d/90-mailkeys.conf` for 2.3: the passdbs name their `.ext` files.
#[derive(Template)]
#[template(path = "dovecot/2.3/90-mailkeys.conf", escape = "none")]
struct Main23<'a> {
    database_label: &'a str,
    is_sqlite: bool,
    etc_dir: &'a str,
    policy: Option<&'a PolicyLink>,
    doveadm: &'a DoveadmLink,
}

/// 2.3's `dovecot-sql-mailkeys-app.conf.ext`.
#[derive(Template)]
#[template(path = "dovecot/2.3/app.conf.ext", escape = "none")]
struct App23<'a> {
    database_label: &'a str,
    is_pgsql: bool,
    driver: &'a str,
    connect: &'a str,
}

/// 2.3's `dovecot-sql-mailkeys-main.conf.ext`.
#[derive(Template)]
#[template(path = "dovecot/2.3/main.conf.ext", escape = "none")]
struct MainPassword23<'a> {
    database_label: &'a str,
    is_pgsql: bool,
    driver: &'a str,
    connect: &'a str,
}

/// `conf.d/90-mailkeys.conf` for 2.4: the SQL settings sit inside the named passdbs.
#[derive(Template)]
#[template(path = "dovecot/2.4/90-mailkeys.conf", escape = "none")]
struct Main24<'a> {
    lookup_id_hex: &'a str,
    database_label: &'a str,
    sqlite_path: Option<&'a str>,
    pgsql: Option<&'a super::PgConnect>,
    policy: Option<&'a PolicyLink>,
    doveadm: &'a DoveadmLink,
}

/// What to add to Mailkeys' own configuration so it reaches this Dovecot.
#[derive(Template)]
#[template(path = "dovecot/mailkeys-settings.toml", escape = "none")]
struct MailkeysSide<'a> {
    version: &'a str,
    policy: Option<&'a PolicyLink>,
    doveadm: &'a DoveadmLink,
}

/// The read-only PostgreSQL role Dovecot connects as.
#[derive(Template)]
#[template(path = "dovecot/mailkeys-dovecot-role.sql", escape = "none")]
struct Role<'a> {
    pg: &'a super::PgConnect,
}

pub(super) fn render(config: &DovecotConfig) -> anyhow::Result<Vec<ConfigFile>> {
    let label = match config.database {
        DovecotDatabase::Sqlite { .. } => "SQLite",
        DovecotDatabase::Postgres(_) => "PostgreSQL",
    };
    let policy = config.policy.as_ref();
    let doveadm = &config.doveadm;
    let mut files = Vec::new();
    match config.version {
        DovecotVersion::V2_3 => {
            let (driver, connect) = match &config.database {
                DovecotDatabase::Sqlite { path } => ("sqlite", path.clone()),
                DovecotDatabase::Postgres(pg) => ("pgsql", pg_connect_string_2_3(pg)),
            };
            files.push(file(
                "conf.d/90-mailkeys.conf",
                Main23 {
                    database_label: label,
                    is_sqlite: matches!(config.database, DovecotDatabase::Sqlite { .. }),
                    etc_dir: &config.etc_dir,
                    policy,
                    doveadm,
                }
                .render()?,
            ));
            files.push(file(
                "dovecot-sql-mailkeys-app.conf.ext",
                App23 {
                    database_label: label,
                    is_pgsql: driver == "pgsql",
                    driver,
                    connect: &connect,
                }
                .render()?,
            ));
            files.push(file(
                "dovecot-sql-mailkeys-main.conf.ext",
                MainPassword23 {
                    database_label: label,
                    is_pgsql: driver == "pgsql",
                    driver,
                    connect: &connect,
                }
                .render()?,
            ));
        }
        DovecotVersion::V2_4 => {
            let (sqlite_path, pgsql) = match &config.database {
                DovecotDatabase::Sqlite { path } => (Some(path.as_str()), None),
                DovecotDatabase::Postgres(pg) => (None, Some(pg)),
            };
            files.push(file(
                "conf.d/90-mailkeys.conf",
                Main24 {
                    lookup_id_hex: match config.database {
                        DovecotDatabase::Sqlite { .. } => "lower(hex(lookup_id))",
                        DovecotDatabase::Postgres(_) => {
                            "encode(convert_to(lookup_id, 'UTF8'), 'hex')"
                        }
                    },
                    database_label: label,
                    sqlite_path,
                    pgsql,
                    policy,
                    doveadm,
                }
                .render()?,
            ));
        }
    }
    files.push(file(
        "mailkeys-settings.toml",
        MailkeysSide {
            version: config.version.as_str(),
            policy,
            doveadm,
        }
        .render()?,
    ));
    if let DovecotDatabase::Postgres(pg) = &config.database {
        files.push(file("mailkeys-dovecot-role.sql", Role { pg }.render()?));
    }
    Ok(files)
}

fn file(path: &str, mut contents: String) -> ConfigFile {
    if !contents.ends_with('\n') {
        contents.push('\n');
    }
    ConfigFile {
        path: path.to_owned(),
        contents,
    }
}

/// libpq's `key=value` form, as 2.3's `connect` takes it (see the template for why the
/// client encoding is SQL_ASCII).
fn pg_connect_string_2_3(pg: &super::PgConnect) -> String {
    let mut s = format!(
        "host={} port={} dbname={} user={} client_encoding=SQL_ASCII",
        pg.host, pg.port, pg.dbname, pg.user
    );
    if let Some(password) = &pg.password {
        s.push_str(" password=");
        s.push_str(password);
    }
    s
}
