//! What a test instance is started with: its version, the Mailkeys database it reads, the
//! policy listener, the certificate, the listen address, and the special layouts.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use super::DovecotVersion;

pub enum DovecotDb {
    /// The SQLite file on the host; for 2.4 it must be under the root (`Install::tempdir`).
    Sqlite(PathBuf),
    Postgres {
        host: String,
        port: u16,
        dbname: String,
        user: String,
        /// `None` relies on the server trusting loopback connections.
        password: Option<String>,
    },
}

pub struct DovecotOptions {
    pub version: DovecotVersion,
    /// The Mailkeys database of the SQL passdbs (unused with `baseline_passwd_file`).
    pub db: DovecotDb,
    /// Full URL of the Mailkeys policy listener (Dovecot appends `?command=report`);
    /// `None` switches the auth policy off.
    pub policy_url: Option<String>,
    /// Value of the shipped policy header (`X-Mailkeys-Policy-Secret`); `None` sends none.
    pub policy_secret: Option<String>,
    /// Enables Dovecot's auth cache (positive and negative entries kept for an hour).
    pub auth_cache: bool,
    /// The auth worker runs as root (the default: test databases live in root-only
    /// folders); `false` keeps Dovecot's own user, for a test of the README's permissions.
    pub auth_worker_as_root: bool,
    /// Install the generated files into a copy of the distribution's own `/etc/dovecot` (of
    /// this version) the way deploy/dovecot/README.md says, instead of the harness's small
    /// top-level file; `local.conf` then only moves the instance to test paths and ports.
    pub stock_layout: bool,
    /// The server certificate the IMAP listeners present.
    pub cert: CertChoice,
    /// `ssl = required` instead of `ssl = yes`. Measured on 2.3.19: this changes nothing for
    /// a connection from 127.0.0.1 to 127.0.0.1, which Dovecot counts as secured (no
    /// LOGINDISABLED, plaintext LOGIN accepted); use `listen_address` for an unsecured one.
    pub ssl_required: bool,
    /// Address of the IMAP and IMAPS listeners (the doveadm API stays on 127.0.0.1). With
    /// another loopback address such as 127.0.0.2, a local client connects from 127.0.0.1 to
    /// 127.0.0.2 and Dovecot does not count the connection as secured: before TLS it
    /// announces LOGINDISABLED and refuses plaintext authentication, as for a remote client.
    pub listen_address: Ipv4Addr,
    /// For benchmarks: when set, the instance authenticates ONLY these users, from a
    /// passwd-file passdb with `{PLAIN}` passwords: no Mailkeys SQL passdb, no auth policy
    /// (`policy_url` must be `None`), `db` unused. Same listeners, TLS, mechanisms
    /// (`plain login`, no plaintext authentication before TLS), userdb and doveadm API as the
    /// Mailkeys configuration, and the auth cache only with `auth_cache`, so logins/s can be
    /// compared with and without Mailkeys' database. Users and passwords must not contain
    /// `:` or line breaks.
    pub baseline_passwd_file: Option<Vec<(String, String)>>,
    /// The passwords of `baseline_passwd_file` are stored hashes with their scheme prefix
    /// (`{ARGON2ID}$argon2id$…`, as Mailkeys stores them), written to the file as they are,
    /// so Dovecot verifies the same hash without SQL.
    pub baseline_hashed: bool,
    /// Extra fields of users of `baseline_passwd_file` (user, fields), as passdb extra
    /// fields in its passwd-file, e.g. `nologin reason="Your account is disabled"`: how an
    /// admin turns an account away with a reason.
    pub baseline_extra_fields: Vec<(String, String)>,
    /// Files `mailkeys dovecot config` wrote (as an admin would install them): the instance
    /// includes this `conf.d/90-mailkeys.conf` as it is instead of rendering its own, and its
    /// doveadm listener is where those files put it. `db`, `policy_*` are then unused.
    pub generated: Option<GeneratedFiles>,
}

/// See `DovecotOptions::generated`.
#[derive(Clone, Debug)]
pub struct GeneratedFiles {
    /// The generated `conf.d/90-mailkeys.conf` (under the version's scratch folder).
    pub main_file: PathBuf,
    pub doveadm_port: u16,
    pub doveadm_api_key: String,
}

/// Which certificate an instance presents. Every choice is made for the instance, with
/// `Dovecot::ca_cert_pem` as the CA a client is told to trust (`ca_file`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CertChoice {
    /// Signed by the instance's CA, valid now, for `localhost`, `127.0.0.1` (and the
    /// listen address).
    #[default]
    Default,
    /// Signed by its own key (same names, valid now); the CA in `ca_cert_pem` did not sign it.
    SelfSigned,
    /// Signed by the CA, for the same names, valid from 1 January 2020 to 1 January 2021.
    Expired,
    /// Signed by the CA, valid now, made out for `mail.example.net` only.
    WrongHost,
}

impl DovecotOptions {
    pub fn new(version: DovecotVersion, db: DovecotDb) -> Self {
        Self {
            version,
            db,
            policy_url: None,
            policy_secret: None,
            auth_cache: false,
            auth_worker_as_root: true,
            stock_layout: false,
            cert: CertChoice::Default,
            ssl_required: false,
            listen_address: Ipv4Addr::LOCALHOST,
            baseline_passwd_file: None,
            baseline_hashed: false,
            baseline_extra_fields: Vec::new(),
            generated: None,
        }
    }

    /// A benchmark baseline: only these users, with plaintext passwords in a passwd-file
    /// (see `baseline_passwd_file`).
    pub fn baseline(version: DovecotVersion, users: Vec<(String, String)>) -> Self {
        Self {
            baseline_passwd_file: Some(users),
            // Never opened: the baseline has no SQL passdb.
            ..Self::new(
                version,
                DovecotDb::Sqlite(PathBuf::from("/nonexistent/baseline-has-no-db")),
            )
        }
    }
}
