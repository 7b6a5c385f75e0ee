//! Test harness: a real Dovecot, 2.3 (the host's, Debian 12) or 2.4 (Debian 13's packages in
//! a root folder, see `install`), started from the configuration `mailkeys dovecot config`
//! writes (the same text as the files under `deploy/dovecot`), one instance per test, each on
//! its own free loopback ports and temporary directory, so tests can run in parallel.
//!
//! The harness writes a small top-level `dovecot.conf` for the version (base_dir, log, mail
//! dirs, ports, a certificate made for this run, `auth_failure_delay = 0`, a static userdb,
//! see `files`) and includes the generator's files, rendered with explicit values for this
//! instance (paths, the connect string, the policy URL and secrets): nothing of the shipped
//! text is rewritten.
//!
//! Test-only deviations, all in the generated top-level file: the auth worker runs as root
//! (test databases live in root-only temporary directories; operators follow README.md
//! instead), `auth_verbose = yes`, and the auth cache when `auth_cache` is set.
//! Set `MAILKEYS_TEST_DOVECOT_DEBUG=1` for `auth_debug` (the log then shows every SQL query).
//!
//! Besides `Dovecot::start`: `imaps_login` (TLS, from any 127.x.y.z), `imap_login`
//! (plaintext, from 127.0.0.1 only), `auth_test` (`doveadm auth test` for any service and
//! remote address), `doveadm` (the HTTP API) and `PolicyRecorder` (a stand-in policy listener).
//!
//! Needs the packages from `scripts/install-dovecot.sh`, the root from
//! `scripts/install-dovecot24.sh`; a missing Dovecot makes the test fail,
//! never skip.

// Harness API: not every test binary uses every part of it.
#![allow(dead_code, unused_imports)]

mod files;
pub mod install;
mod maildir;
mod options;
mod policy;
mod process;
mod server_cert;
mod stock;
mod util;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::TcpStream;

pub use crate::imap_client::{ImapSession, TlsStream};
pub use files::uncomment_block;
pub use install::Install;
pub use mailkeys::dovecot::DovecotVersion;
pub use options::{CertChoice, DovecotDb, DovecotOptions, GeneratedFiles};
pub use policy::{PolicyRecorder, PolicyRequest};
use process::{read_log, stop_child, wait_ready};
use util::{free_ports, random_hex, set_mode};

/// Where the shipped Dovecot files live (`deploy/dovecot/<version>/<database>/`).
pub const SHIPPED_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/dovecot");

/// Uid/gid the IMAP mail processes of the test instances run as (nobody/nogroup on Debian,
/// the same number in the 2.4 root).
const MAIL_UID: u32 = 65534;

pub struct Dovecot {
    pub install: Install,
    /// Where the IMAP and IMAPS listeners are (`DovecotOptions::listen_address`).
    pub address: Ipv4Addr,
    pub imaps_port: u16,
    /// Plaintext IMAP with STARTTLS. Dovecot counts a connection from 127.0.0.1 to 127.0.0.1
    /// as secured, so plaintext authentication works from that source address only (and
    /// only when `address` is 127.0.0.1).
    pub imap_port: u16,
    /// `http://127.0.0.1:PORT/doveadm/v1`
    pub doveadm_url: String,
    /// `http://127.0.0.1:PORT`, the other form Mailkeys' `doveadm_url` accepts.
    pub doveadm_base_url: String,
    /// Plain key; requests carry `Authorization: X-Dovecot-API <base64 of key>`.
    pub doveadm_api_key: String,
    /// The CA a client should trust, made for this instance. With `CertChoice::Default` it
    /// signed the server certificate (CN localhost, SAN localhost, 127.0.0.1 and the listen
    /// address); see `CertChoice` for the others.
    pub ca_cert_pem: PathBuf,
    config_path: PathBuf,
    log_path: PathBuf,
    stderr_path: PathBuf,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

/// Result of `doveadm auth test` (the passdb chain and the policy report, without IMAP).
#[derive(Debug)]
pub struct AuthTest {
    pub ok: bool,
    pub output: String,
}

impl Dovecot {
    pub async fn start(opts: DovecotOptions) -> Dovecot {
        let install = Install::of(opts.version);
        let dir = install.tempdir("mkdc-");
        let root = dir.path().to_path_buf();
        // Dovecot's unprivileged processes (auth as `dovecot`, mail as nobody) must traverse it.
        set_mode(&root, 0o755);
        for sub in ["run", "state", "conf.d", "tls"] {
            std::fs::create_dir(root.join(sub)).unwrap();
        }
        let home = root.join("home");
        std::fs::create_dir(&home).unwrap();
        std::os::unix::fs::chown(&home, Some(MAIL_UID), Some(MAIL_UID))
            .expect("chown of the mail directory (the tests run as root)");
        assert!(
            opts.listen_address.is_loopback(),
            "listen_address must be a loopback address"
        );
        assert!(
            opts.baseline_passwd_file.is_none() || opts.policy_url.is_none(),
            "a baseline instance has no auth policy"
        );
        let ca_cert_pem =
            server_cert::write_certificates(&root.join("tls"), opts.cert, opts.listen_address);

        let doveadm_api_key = opts
            .generated
            .as_ref()
            .map_or_else(|| random_hex(16), |g| g.doveadm_api_key.clone());
        let log_path = root.join("dovecot.log");
        let stderr_path = root.join("dovecot.stderr");
        let mut last_failure = String::new();
        for _attempt in 0..5 {
            let [imap_port, imaps_port, free_doveadm_port] = free_ports();
            let doveadm_port = opts
                .generated
                .as_ref()
                .map_or(free_doveadm_port, |g| g.doveadm_port);
            let config_path = files::write_config(
                &install,
                &root,
                &opts,
                imap_port,
                imaps_port,
                doveadm_port,
                &doveadm_api_key,
            );
            let _ = std::fs::remove_file(&log_path);
            let mut child = install
                .command("/usr/sbin/dovecot")
                .arg("-F")
                .arg("-c")
                .arg(install.inside(&config_path))
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(root.join("dovecot.stdout")).unwrap())
                .stderr(std::fs::File::create(&stderr_path).unwrap())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run dovecot: {e}"));
            let ports = [imap_port, imaps_port, doveadm_port];
            let address = opts.listen_address;
            match wait_ready(&mut child, address, ports, &log_path, &stderr_path).await {
                Ok(()) => {
                    return Dovecot {
                        install,
                        address,
                        imaps_port,
                        imap_port,
                        doveadm_url: format!("http://127.0.0.1:{doveadm_port}/doveadm/v1"),
                        doveadm_base_url: format!("http://127.0.0.1:{doveadm_port}"),
                        doveadm_api_key,
                        ca_cert_pem,
                        config_path,
                        log_path,
                        stderr_path,
                        child: Some(child),
                        dir,
                    }
                }
                Err(failure) => {
                    stop_child(child);
                    // Another test may have taken one of the ports between probe and bind.
                    if !failure.contains("Address already in use") {
                        panic!("Dovecot did not start: {failure}");
                    }
                    last_failure = failure;
                }
            }
        }
        panic!("Dovecot did not start after 5 attempts: {last_failure}");
    }

    /// The instance's log (and anything Dovecot printed on stderr), for failure messages.
    pub fn log(&self) -> String {
        read_log(&self.log_path, &self.stderr_path)
    }

    /// The log once it holds `needle` (Dovecot's log process writes a moment after the event),
    /// waiting up to 10 s; the log as it is then, with or without it.
    pub async fn log_with(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if log.contains(needle) || Instant::now() > deadline {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Value of the `Authorization` header for the doveadm HTTP API.
    pub fn doveadm_authorization(&self) -> String {
        format!(
            "X-Dovecot-API {}",
            base64::engine::general_purpose::STANDARD.encode(self.doveadm_api_key.as_bytes())
        )
    }

    /// POSTs doveadm HTTP API commands, e.g.
    /// `json!([["authCacheFlush", {"user": ["alice@example.org"]}, "t1"]])`;
    /// returns the HTTP status and the JSON answer.
    pub async fn doveadm(&self, commands: &serde_json::Value) -> (u16, serde_json::Value) {
        let response = reqwest::Client::new()
            .post(&self.doveadm_url)
            .header("Authorization", self.doveadm_authorization())
            .json(commands)
            .send()
            .await
            .unwrap_or_else(|e| panic!("doveadm HTTP API unreachable: {e}\n{}", self.log()));
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, json)
    }

    /// Runs the passdb chain for `service` (`imap`, `smtp`, `submission`, ...) as if the client
    /// came from `remote_ip`, through the auth service like a login process would. Sends the
    /// policy report too. Vary `remote_ip`: failures are penalised per remote address.
    pub async fn auth_test(
        &self,
        user: &str,
        password: &str,
        service: &str,
        remote_ip: &str,
    ) -> AuthTest {
        let output = self
            .install
            .async_command("/usr/bin/doveadm")
            .arg("-c")
            .arg(self.install.inside(&self.config_path))
            .args(["auth", "test", "-x"])
            .arg(format!("service={service}"))
            .arg("-x")
            .arg(format!("rip={remote_ip}"))
            .arg(user)
            .arg(password)
            .output()
            .await
            .expect("doveadm auth test runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let ok = output.status.success();
        assert!(
            ok || output.status.code() == Some(77),
            "doveadm auth test failed to run ({:?}): {text}\n{}",
            output.status,
            self.log()
        );
        AuthTest { ok, output: text }
    }

    /// Waits (five seconds at the most) until Dovecot has closed `session`, e.g. after a kick.
    pub async fn wait_until_closed<S>(&self, session: &mut ImapSession<S>)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while session.noop().await.is_ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "kicked session still alive\n{}",
                self.log()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Plaintext IMAP login (SASL PLAIN) on `imap_port` from 127.0.0.1, which Dovecot treats
    /// as a secured connection when `address` is 127.0.0.1 too. `Err` carries the server's
    /// tagged answer.
    pub async fn imap_login(&self, user: &str, password: &str) -> Result<ImapSession, String> {
        let stream = TcpStream::connect((self.address, self.imap_port))
            .await
            .unwrap_or_else(|e| panic!("IMAP port unreachable: {e}\n{}", self.log()));
        ImapSession::login(stream, user, password.as_bytes()).await
    }

    /// IMAPS login (SASL PLAIN) on `imaps_port` from `source_ip` (any 127.x.y.z: Dovecot
    /// penalises failed logins per remote address), verifying the server certificate against
    /// `ca_cert_pem` for the name `localhost`. `Err` carries the server's tagged answer.
    pub async fn imaps_login(
        &self,
        source_ip: &str,
        user: &str,
        password: impl AsRef<[u8]>,
    ) -> Result<ImapSession<TlsStream>, String> {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, ServerName};

        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&self.ca_cert_pem).expect("read ca_cert_pem") {
            roots.add(cert.expect("parse ca_cert_pem")).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        let source: std::net::IpAddr = source_ip.parse().expect("source_ip is an IPv4 address");
        socket
            .bind((source, 0).into())
            .unwrap_or_else(|e| panic!("bind {source_ip}: {e}"));
        let tcp = socket
            .connect((self.address, self.imaps_port).into())
            .await
            .unwrap_or_else(|e| panic!("IMAPS port unreachable: {e}\n{}", self.log()));
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap_or_else(|e| panic!("TLS handshake with Dovecot failed: {e}\n{}", self.log()));
        ImapSession::login(tls, user, password.as_ref()).await
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            stop_child(child);
        }
    }
}
