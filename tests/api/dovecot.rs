//! Test harness: a real Dovecot (Debian 12: 2.3.19) started from the shipped configuration in
//! `deploy/dovecot`, one instance per test, each on its own free loopback ports and temporary
//! directory, so tests can run in parallel.
//!
//! The harness writes a small top-level `dovecot.conf` (base_dir, state_dir, log, mail dirs,
//! ports, a certificate made for this run, `auth_failure_delay = 0`, a static userdb) and copies
//! the shipped `conf.d/90-mailkeys.conf` and the two `dovecot-sql-mailkeys-*.conf.ext` files of
//! the chosen backend with only paths, the connect string, the policy URL and the secrets
//! substituted. Every substitution must match the shipped text, so editing a shipped file in a
//! way the harness no longer understands fails loudly here instead of testing something else.
//!
//! Test-only deviations, all in the generated top-level file: the auth worker runs as root
//! (test databases live in root-only temporary directories; operators follow README.md
//! instead), `auth_verbose = yes`, and the auth cache when `auth_cache` is set.
//! Set `MAILKEYS_TEST_DOVECOT_DEBUG=1` for `auth_debug` (the log then shows every SQL query).
//!
//! Besides `Dovecot::start`: `imaps_login` (TLS, from any 127.x.y.z), `imap_login`
//! (plaintext, from 127.0.0.1 only), `auth_test` (`doveadm auth test` for any service and
//! remote address), `doveadm` (the HTTP API) and `PolicyRecorder` (a stand-in policy listener).
//! The `tests` module at the end checks the shipped configuration itself
//! (`cargo test --test api dovecot`).
//!
//! Needs the packages from `scripts/install-dovecot.sh` and `openssl`; a missing Dovecot makes
//! the test fail, never skip.

// Harness API: not every test binary uses every part of it.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::net::{Ipv4Addr, TcpListener as StdTcpListener};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

/// Where the shipped Dovecot files live.
pub const SHIPPED_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/dovecot");

/// Debian's locations; a plain name (searched in PATH) where they are missing.
fn dovecot_bin() -> &'static str {
    if Path::new("/usr/sbin/dovecot").exists() {
        "/usr/sbin/dovecot"
    } else {
        "dovecot"
    }
}

fn doveadm_bin() -> &'static str {
    if Path::new("/usr/bin/doveadm").exists() {
        "/usr/bin/doveadm"
    } else {
        "doveadm"
    }
}

/// Uid/gid the IMAP mail processes of the test instances run as (nobody/nogroup on Debian).
const MAIL_UID: u32 = 65534;

pub enum DovecotDb {
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
    /// The Mailkeys database of the SQL passdbs (unused with `baseline_passwd_file`).
    pub db: DovecotDb,
    /// Full URL of the Mailkeys policy listener (Dovecot appends `?command=report`);
    /// `None` switches the auth policy off.
    pub policy_url: Option<String>,
    /// Value of the shipped policy header (`X-Mailkeys-Policy-Secret`); `None` sends none.
    pub policy_secret: Option<String>,
    /// Enables Dovecot's auth cache (positive and negative entries kept for an hour).
    pub auth_cache: bool,
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
    pub fn new(db: DovecotDb) -> Self {
        Self {
            db,
            policy_url: None,
            policy_secret: None,
            auth_cache: false,
            cert: CertChoice::Default,
            ssl_required: false,
            listen_address: Ipv4Addr::LOCALHOST,
            baseline_passwd_file: None,
        }
    }

    /// A benchmark baseline: only these users, with plaintext passwords in a passwd-file
    /// (see `baseline_passwd_file`).
    pub fn baseline(users: Vec<(String, String)>) -> Self {
        Self {
            baseline_passwd_file: Some(users),
            // Never opened: the baseline has no SQL passdb.
            ..Self::new(DovecotDb::Sqlite(PathBuf::from(
                "/nonexistent/baseline-has-no-db",
            )))
        }
    }
}

pub struct Dovecot {
    /// Where the IMAP and IMAPS listeners are (`DovecotOptions::listen_address`).
    pub address: Ipv4Addr,
    pub imaps_port: u16,
    /// Plaintext IMAP with STARTTLS. Dovecot counts a connection from 127.0.0.1 to 127.0.0.1
    /// as secured, so plaintext authentication works from that source address only (and
    /// only when `address` is 127.0.0.1).
    pub imap_port: u16,
    /// `http://127.0.0.1:PORT/doveadm/v1`
    pub doveadm_url: String,
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
        ensure_installed();
        let dir = tempfile::Builder::new()
            .prefix("mkdc-")
            .tempdir()
            .expect("temporary directory for Dovecot");
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
        let ca_cert_pem = match opts.cert {
            CertChoice::Default => make_certificates(&root.join("tls"), opts.listen_address),
            choice => make_special_certificates(&root.join("tls"), choice, opts.listen_address),
        };

        let doveadm_api_key = random_hex(16);
        let log_path = root.join("dovecot.log");
        let stderr_path = root.join("dovecot.stderr");
        let mut last_failure = String::new();
        for _attempt in 0..5 {
            let [imap_port, imaps_port, doveadm_port] = free_ports();
            let config_path = write_config(
                &root,
                &opts,
                imap_port,
                imaps_port,
                doveadm_port,
                &doveadm_api_key,
            );
            let _ = std::fs::remove_file(&log_path);
            let mut child = Command::new(dovecot_bin())
                .arg("-F")
                .arg("-c")
                .arg(&config_path)
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
                        address,
                        imaps_port,
                        imap_port,
                        doveadm_url: format!("http://127.0.0.1:{doveadm_port}/doveadm/v1"),
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

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Value of the `Authorization` header for the doveadm HTTP API.
    pub fn doveadm_authorization(&self) -> String {
        format!("X-Dovecot-API {}", base64(self.doveadm_api_key.as_bytes()))
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
        let output = tokio::process::Command::new(doveadm_bin())
            .arg("-c")
            .arg(&self.config_path)
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

    /// Plaintext IMAP login (SASL PLAIN) on `imap_port` from 127.0.0.1, which Dovecot treats
    /// as a secured connection when `address` is 127.0.0.1 too. `Err` carries the server's
    /// tagged answer.
    pub async fn imap_login(&self, user: &str, password: &str) -> Result<ImapSession, String> {
        let stream = TcpStream::connect((self.address, self.imap_port))
            .await
            .unwrap_or_else(|e| panic!("IMAP port unreachable: {e}\n{}", self.log()));
        ImapSession::login(stream, user, password).await
    }

    /// IMAPS login (SASL PLAIN) on `imaps_port` from `source_ip` (any 127.x.y.z: Dovecot
    /// penalises failed logins per remote address), verifying the server certificate against
    /// `ca_cert_pem` for the name `localhost`. `Err` carries the server's tagged answer.
    pub async fn imaps_login(
        &self,
        source_ip: &str,
        user: &str,
        password: &str,
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
        ImapSession::login(tls, user, password).await
    }
}

impl Dovecot {
    /// Puts a message into `user`'s INBOX (a new Maildir file, as a delivery agent would), so
    /// a SELECT counts it. `user` as Dovecot names the account after login (the Mailkeys
    /// passdbs return the lower-case address).
    pub fn deliver(&self, user: &str, message: &str) {
        use std::sync::atomic::{AtomicU32, Ordering};
        static SEQ: AtomicU32 = AtomicU32::new(0);
        assert!(
            !user.contains('/') && !user.starts_with('.'),
            "not a user name: {user}"
        );
        let home = self.dir.path().join("home").join(user);
        let maildir = home.join("Maildir");
        for dir in [
            home.clone(),
            maildir.clone(),
            maildir.join("cur"),
            maildir.join("new"),
            maildir.join("tmp"),
        ] {
            if !dir.exists() {
                std::fs::create_dir(&dir).unwrap();
                std::os::unix::fs::chown(&dir, Some(MAIL_UID), Some(MAIL_UID)).unwrap();
            }
        }
        let name = format!(
            "{}.M{}P{}Q{}.mailkeys-test",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
            random_hex(4),
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let tmp = maildir.join("tmp").join(&name);
        std::fs::write(&tmp, message.replace('\n', "\r\n")).unwrap();
        std::os::unix::fs::chown(&tmp, Some(MAIL_UID), Some(MAIL_UID)).unwrap();
        std::fs::rename(&tmp, maildir.join("new").join(&name)).unwrap();
    }
}

/// The client side of an IMAPS connection.
pub type TlsStream = tokio_rustls::client::TlsStream<TcpStream>;

impl Drop for Dovecot {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            stop_child(child);
        }
    }
}

fn read_log(log_path: &Path, stderr_path: &Path) -> String {
    let log = std::fs::read_to_string(log_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(stderr_path).unwrap_or_default();
    if stderr.trim().is_empty() {
        log
    } else {
        format!("{log}\n--- stderr ---\n{stderr}")
    }
}

fn stop_child(mut child: Child) {
    // SIGTERM lets the master stop its children (login, auth, imap) before it exits.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
        }
    }
}

async fn wait_ready(
    child: &mut Child,
    address: Ipv4Addr,
    [imap_port, imaps_port, doveadm_port]: [u16; 3],
    log_path: &Path,
    stderr_path: &Path,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Err(format!(
                "dovecot exited with {status}:\n{}",
                read_log(log_path, stderr_path)
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "dovecot not listening after 30 s:\n{}",
                read_log(log_path, stderr_path)
            ));
        }
        if ports_ready(address, imap_port, imaps_port, doveadm_port).await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn ports_ready(
    address: Ipv4Addr,
    imap_port: u16,
    imaps_port: u16,
    doveadm_port: u16,
) -> bool {
    for (address, port) in [(address, imaps_port), (Ipv4Addr::LOCALHOST, doveadm_port)] {
        if TcpStream::connect((address, port)).await.is_err() {
            return false;
        }
    }
    // The plaintext port answers with a greeting once a login process serves it.
    let Ok(stream) = TcpStream::connect((address, imap_port)).await else {
        return false;
    };
    let mut line = String::new();
    let mut reader = BufReader::new(stream);
    matches!(
        tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line)).await,
        Ok(Ok(n)) if n > 0 && line.starts_with("* OK")
    )
}

/// A logged-in IMAP connection.
pub struct ImapSession<S = TcpStream> {
    stream: BufReader<S>,
    tag: u32,
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> ImapSession<S> {
    async fn login(stream: S, user: &str, password: &str) -> Result<Self, String> {
        let mut session = ImapSession {
            stream: BufReader::new(stream),
            tag: 0,
        };
        let greeting = session
            .read_line()
            .await
            .map_err(|e| format!("no greeting: {e}"))?;
        assert!(
            greeting.starts_with("* OK"),
            "unexpected greeting {greeting:?}"
        );
        let mut plain = vec![0];
        plain.extend_from_slice(user.as_bytes());
        plain.push(0);
        plain.extend_from_slice(password.as_bytes());
        let answer = session
            .command(&format!("AUTHENTICATE PLAIN {}", base64(&plain)))
            .await
            .map_err(|e| format!("connection failed: {e}"))?;
        if answer.starts_with("OK") {
            Ok(session)
        } else {
            Err(answer)
        }
    }

    /// Sends one command; returns the tagged answer without the tag ("OK ...", "NO ...").
    pub async fn command(&mut self, command: &str) -> std::io::Result<String> {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        self.stream
            .get_mut()
            .write_all(format!("{tag} {command}\r\n").as_bytes())
            .await?;
        loop {
            let line = self.read_line().await?;
            if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                return Ok(rest.to_owned());
            }
            if line.starts_with("* BYE") {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    line,
                ));
            }
        }
    }

    /// `NOOP`: `Ok` while the session is alive, `Err` once Dovecot closed it (e.g. kicked).
    pub async fn noop(&mut self) -> Result<(), String> {
        match self.command("NOOP").await {
            Ok(answer) if answer.starts_with("OK") => Ok(()),
            Ok(answer) => Err(answer),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn read_line(&mut self) -> std::io::Result<String> {
        let mut line = String::new();
        let n = tokio::time::timeout(Duration::from_secs(30), self.stream.read_line(&mut line))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "IMAP read timed out")
            })??;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        Ok(line.trim_end().to_owned())
    }
}

/// A stand-in for the Mailkeys policy listener: records Dovecot's policy requests and answers
/// `{"status":0,"msg":""}`.
pub struct PolicyRecorder {
    pub url: String,
    requests: Arc<Mutex<Vec<PolicyRequest>>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone, Debug)]
pub struct PolicyRequest {
    pub method: String,
    /// Path and query, e.g. `/dovecot/auth-policy?command=report`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
}

impl PolicyRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl PolicyRecorder {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/dovecot/auth-policy",
            listener.local_addr().unwrap()
        );
        let requests = Arc::new(Mutex::new(Vec::new()));
        let sink = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let sink = sink.clone();
                tokio::spawn(async move {
                    let _ = serve_policy_connection(stream, sink).await;
                });
            }
        });
        Self {
            url,
            requests,
            task,
        }
    }

    pub fn requests(&self) -> Vec<PolicyRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) for a request whose JSON body satisfies `matches`.
    pub async fn wait_for(&self, matches: impl Fn(&PolicyRequest) -> bool) -> PolicyRequest {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(found) = self.requests().into_iter().find(|r| matches(r)) {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no matching policy request; got {:#?}",
                self.requests()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for PolicyRecorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_policy_connection(
    stream: TcpStream,
    sink: Arc<Mutex<Vec<PolicyRequest>>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await? == 0 {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).await?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;
        let body = serde_json::from_slice(&body).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&body).into_owned())
        });
        sink.lock().unwrap().push(PolicyRequest {
            method,
            target,
            headers,
            body,
        });
        let answer = br#"{"status":0,"msg":""}"#;
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            answer.len()
        );
        reader.get_mut().write_all(head.as_bytes()).await?;
        reader.get_mut().write_all(answer).await?;
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration

fn write_config(
    root: &Path,
    opts: &DovecotOptions,
    imap_port: u16,
    imaps_port: u16,
    doveadm_port: u16,
    doveadm_api_key: &str,
) -> PathBuf {
    let r = root.display();
    let include = match &opts.baseline_passwd_file {
        None => write_mailkeys_files(root, opts, doveadm_port, doveadm_api_key),
        Some(users) => write_baseline_files(root, users, doveadm_port, doveadm_api_key),
    };
    let include = include.display();
    let listen = opts.listen_address;
    let ssl = if opts.ssl_required { "required" } else { "yes" };

    let debug = if std::env::var_os("MAILKEYS_TEST_DOVECOT_DEBUG").is_some() {
        "yes"
    } else {
        "no"
    };
    let mut conf = String::new();
    write!(
        conf,
        r#"# Generated by tests/api/dovecot.rs for one test instance.
instance_name = mailkeys-test-{imap_port}
base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
protocols = imap
listen = {listen}
default_internal_user = dovecot
default_login_user = dovenull
ssl = {ssl}
ssl_cert = <{r}/tls/cert.pem
ssl_key = <{r}/tls/key.pem
auth_failure_delay = 0
auth_verbose = yes
auth_debug = {debug}
mail_location = maildir:~/Maildir
userdb {{
  driver = static
  args = uid={MAIL_UID} gid={MAIL_UID} home={r}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = {listen}
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = {listen}
    port = {imaps_port}
    ssl = yes
  }}
}}
# Test only: the test databases live in root-only temporary directories.
service auth-worker {{
  user = root
}}
!include {include}
"#
    )
    .unwrap();
    if opts.auth_cache {
        conf.push_str("# Test option auth_cache (overrides auth_cache_size = 0).\nauth_cache_size = 10M\nauth_cache_ttl = 1 hour\nauth_cache_negative_ttl = 1 hour\n");
    }
    let path = root.join("dovecot.conf");
    std::fs::write(&path, conf).unwrap();
    set_mode(&path, 0o600);
    path
}

/// The shipped Mailkeys files with paths, connect string, policy and secrets filled in;
/// returns the path of the `90-mailkeys.conf` to include.
fn write_mailkeys_files(
    root: &Path,
    opts: &DovecotOptions,
    doveadm_port: u16,
    doveadm_api_key: &str,
) -> PathBuf {
    let r = root.display();
    let (flavour, driver, connect) = match &opts.db {
        DovecotDb::Sqlite(path) => ("sqlite", "sqlite", path.display().to_string()),
        DovecotDb::Postgres {
            host,
            port,
            dbname,
            user,
            password,
        } => (
            "pgsql",
            "pgsql",
            match password {
                Some(password) => format!(
                    "host={host} port={port} dbname={dbname} user={user} password={password}"
                ),
                None => format!("host={host} port={port} dbname={dbname} user={user}"),
            },
        ),
    };
    for which in ["app", "main"] {
        let name = format!("dovecot-sql-mailkeys-{which}.conf.ext");
        let shipped = read_shipped(&format!("{flavour}/{name}"));
        assert_eq!(
            setting(&shipped, "driver").as_deref(),
            Some(driver),
            "{flavour}/{name}: unexpected driver"
        );
        let text = set_setting(&shipped, "connect", &connect, &name);
        assert_no_placeholder(&text, &name);
        let path = root.join(&name);
        std::fs::write(&path, text).unwrap();
        set_mode(&path, 0o600); // as README.md asks: it may hold the database password
    }

    let name = "conf.d/90-mailkeys.conf";
    let mut text = read_shipped(name);
    let mut args = 0;
    text = text
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("args = /etc/dovecot/") {
                args += 1;
                line.replacen("/etc/dovecot/", &format!("{r}/"), 1)
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        args, 2,
        "{name}: expected two passdb `args = /etc/dovecot/...` lines"
    );
    text = set_setting(
        &text,
        "auth_policy_server_url",
        opts.policy_url.as_deref().unwrap_or(""),
        name,
    );
    text = match &opts.policy_secret {
        Some(secret) => replace_once(&text, "CHANGE_ME_POLICY_SECRET", secret, name),
        None => set_setting(&text, "auth_policy_server_api_header", "", name),
    };
    text = replace_once(&text, "CHANGE_ME_POLICY_NONCE", &random_hex(16), name);
    text = replace_once(&text, "CHANGE_ME_DOVEADM_API_KEY", doveadm_api_key, name);
    text = replace_once(
        &text,
        "port = 8026",
        &format!("port = {doveadm_port}"),
        name,
    );
    assert_no_placeholder(&text, name);
    std::fs::write(root.join(name), text).unwrap();
    root.join(name)
}

/// The benchmark baseline (`DovecotOptions::baseline_passwd_file`): a passwd-file passdb
/// with `{PLAIN}` passwords, the authentication settings copied from the shipped
/// `90-mailkeys.conf` (so only the passdb differs), and the doveadm API. Returns the path of
/// the file to include.
fn write_baseline_files(
    root: &Path,
    users: &[(String, String)],
    doveadm_port: u16,
    doveadm_api_key: &str,
) -> PathBuf {
    let mut passwd = String::new();
    for (user, password) in users {
        assert!(
            !user.is_empty()
                && ![user, password]
                    .iter()
                    .any(|s| s.contains([':', '\n', '\r'])),
            "baseline user {user:?}: no `:` or line break in users and passwords"
        );
        writeln!(passwd, "{user}:{{PLAIN}}{password}").unwrap();
    }
    let passwd_path = root.join("baseline.passwd");
    std::fs::write(&passwd_path, passwd).unwrap();
    set_mode(&passwd_path, 0o644); // read by the auth process, whatever user it runs as

    let shipped_name = "conf.d/90-mailkeys.conf";
    let shipped = read_shipped(shipped_name);
    let mut conf = String::from(
        "# Benchmark baseline (tests/api/dovecot.rs): passwd-file only, no SQL, no policy.\n",
    );
    for key in [
        "auth_mechanisms",
        "disable_plaintext_auth",
        "auth_username_chars",
        "auth_cache_size",
        "login_trusted_networks",
    ] {
        let value = setting(&shipped, key)
            .unwrap_or_else(|| panic!("shipped {shipped_name}: no `{key} =` line"));
        writeln!(conf, "{key} = {value}").unwrap();
    }
    write!(
        conf,
        r#"passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu {passwd}
}}
doveadm_api_key = {doveadm_api_key}
service doveadm {{
  inet_listener http {{
    address = 127.0.0.1
    port = {doveadm_port}
  }}
}}
"#,
        passwd = passwd_path.display()
    )
    .unwrap();
    let path = root.join("conf.d/90-baseline.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

fn read_shipped(name: &str) -> String {
    let path = Path::new(SHIPPED_DIR).join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("shipped file {}: {e}", path.display()))
}

/// Value of a top-level `key = value` line.
fn setting(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once('=')?;
        (name.trim() == key && !line.trim_start().starts_with('#')).then(|| value.trim().to_owned())
    })
}

/// Replaces the value of the single `key = ...` line.
fn set_setting(text: &str, key: &str, value: &str, file: &str) -> String {
    let mut found = 0;
    let out = text
        .lines()
        .map(|line| match line.split_once('=') {
            Some((name, _)) if name.trim() == key && !line.trim_start().starts_with('#') => {
                found += 1;
                let indent = &line[..line.len() - line.trim_start().len()];
                format!("{indent}{key} = {value}")
            }
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        found, 1,
        "shipped {file}: expected exactly one `{key} =` line"
    );
    out + "\n"
}

fn replace_once(text: &str, from: &str, to: &str, file: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "shipped {file}: expected `{from}` exactly once"
    );
    text.replacen(from, to, 1)
}

fn assert_no_placeholder(text: &str, file: &str) {
    let left: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("CHANGE_ME") && !l.trim_start().starts_with('#'))
        .collect();
    assert!(
        left.is_empty(),
        "shipped {file}: placeholders the harness does not fill: {left:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn ensure_installed() {
    match Command::new(dovecot_bin()).arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`dovecot --version` failed ({}): {}. Install with scripts/install-dovecot.sh (as root).",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!(
            "Dovecot is not installed (`dovecot --version`: {e}). These tests need a real Dovecot: \
             run scripts/install-dovecot.sh as root."
        ),
    }
}

/// Three distinct free loopback ports (another process may still grab one before Dovecot
/// binds it: `start` retries with new ports then).
fn free_ports() -> [u16; 3] {
    let listeners: Vec<StdTcpListener> = (0..3)
        .map(|_| StdTcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    [ports[0], ports[1], ports[2]]
}

/// The names the server certificate is made out for.
fn server_names(listen: Ipv4Addr) -> Vec<String> {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    if listen != Ipv4Addr::LOCALHOST {
        names.push(listen.to_string());
    }
    names
}

/// A CA and a server certificate it signed (CN localhost; SAN localhost, 127.0.0.1 and the
/// listen address), with `openssl`. Returns the CA certificate's path.
fn make_certificates(dir: &Path, listen: Ipv4Addr) -> PathBuf {
    let san: Vec<String> = server_names(listen)
        .iter()
        .map(|n| match n.parse::<std::net::IpAddr>() {
            Ok(_) => format!("IP:{n}"),
            Err(_) => format!("DNS:{n}"),
        })
        .collect();
    std::fs::write(
        dir.join("ca.cnf"),
        "[req]\ndistinguished_name = dn\nprompt = no\nx509_extensions = v3\n[dn]\nCN = Mailkeys test CA\n\
         [v3]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n\
         subjectKeyIdentifier = hash\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("leaf.cnf"),
        format!(
            "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n\
             extendedKeyUsage = serverAuth\nsubjectAltName = {}\n\
             authorityKeyIdentifier = keyid\nsubjectKeyIdentifier = hash\n",
            san.join(", ")
        ),
    )
    .unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        dir,
        &[
            &["req", "-x509", "-config", "ca.cnf"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2"],
        ]
        .concat(),
    );
    openssl(
        dir,
        &[
            &["req", "-new"][..],
            &ec,
            &[
                "-keyout",
                "key.pem",
                "-out",
                "leaf.csr",
                "-subj",
                "/CN=localhost",
            ],
        ]
        .concat(),
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "1",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.cnf",
        ],
    );
    dir.join("ca.pem")
}

/// The certificates of the other `CertChoice`s, made with rcgen: a CA (valid 2019 to 2099,
/// written to `ca.pem`, returned) and the server's `cert.pem` and `key.pem`.
fn make_special_certificates(dir: &Path, choice: CertChoice, listen: Ipv4Addr) -> PathBuf {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, "Mailkeys test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = rcgen::date_time_ymd(2019, 1, 1);
    ca.not_after = rcgen::date_time_ymd(2099, 1, 1);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();

    let now = time::OffsetDateTime::now_utc();
    let (names, not_before, not_after) = match choice {
        CertChoice::Default => unreachable!("the default certificate is made with openssl"),
        CertChoice::SelfSigned => (
            server_names(listen),
            now - time::Duration::days(1),
            now + time::Duration::days(2),
        ),
        CertChoice::Expired => (
            server_names(listen),
            rcgen::date_time_ymd(2020, 1, 1),
            rcgen::date_time_ymd(2021, 1, 1),
        ),
        CertChoice::WrongHost => (
            vec!["mail.example.net".to_owned()],
            now - time::Duration::days(1),
            now + time::Duration::days(2),
        ),
    };
    let mut leaf = CertificateParams::new(names.clone()).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, names[0].as_str());
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = not_before;
    leaf.not_after = not_after;
    let key = KeyPair::generate().unwrap();
    let cert = if choice == CertChoice::SelfSigned {
        leaf.self_signed(&key).unwrap()
    } else {
        leaf.signed_by(&key, &ca).unwrap()
    };
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    set_mode(&dir.join("key.pem"), 0o600);
    dir.join("ca.pem")
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("openssl is required to make the test certificate: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn random_hex(bytes: usize) -> String {
    use std::io::Read as _;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Tests of the shipped configuration on the real Dovecot.

mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher as _, SaltString};
    use serde_json::json;

    const SQLITE_SCHEMA: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/migrations/sqlite/0001_init.sql"
    ));
    const POSTGRES_SCHEMA: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/migrations/postgres/0001_init.sql"
    ));

    const PHONE: &str = "k3mfpa-x7bq2n-h4jkmn-p2qrst"; // scope imap
    const LAPTOP: &str = "p2qrst-h4jkmn-x7bq2n-k3mfpa"; // scope imap+smtp
    const OFFICE: &str = "n3tnet-h4jkmn-x7bq2n-k3mfpa"; // imap, only from 10.9.9.0/24
    const MAIN: &str = "alice's main password";

    enum TestDb {
        Sqlite(sqlx::SqlitePool, PathBuf, tempfile::TempDir),
        Postgres(sqlx::PgPool, String),
    }

    impl TestDb {
        async fn new(postgres: bool) -> TestDb {
            if postgres {
                use sqlx::Connection as _;
                let admin = postgres_admin_url();
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL not reachable at {admin}: {e}"));
                let name = format!("mk_dovecot_{}", random_hex(8));
                sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
                let pool = sqlx::PgPool::connect(&format!("{base}/{name}"))
                    .await
                    .unwrap();
                sqlx::raw_sql(POSTGRES_SCHEMA).execute(&pool).await.unwrap();
                TestDb::Postgres(pool, name)
            } else {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("mailkeys.db");
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(&path)
                    .create_if_missing(true)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
                let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
                sqlx::raw_sql(SQLITE_SCHEMA).execute(&pool).await.unwrap();
                TestDb::Sqlite(pool, path, dir)
            }
        }

        fn dovecot_db(&self) -> DovecotDb {
            match self {
                TestDb::Sqlite(_, path, _) => DovecotDb::Sqlite(path.clone()),
                TestDb::Postgres(_, name) => {
                    let url = url::Url::parse(&postgres_admin_url()).unwrap();
                    DovecotDb::Postgres {
                        host: url.host_str().unwrap_or("127.0.0.1").to_owned(),
                        port: url.port().unwrap_or(5432),
                        dbname: name.clone(),
                        user: if url.username().is_empty() {
                            "postgres".into()
                        } else {
                            url.username().into()
                        },
                        password: None,
                    }
                }
            }
        }

        async fn exec(&self, sql: &str) {
            match self {
                TestDb::Sqlite(pool, ..) => drop(sqlx::raw_sql(sql).execute(pool).await.unwrap()),
                TestDb::Postgres(pool, _) => drop(sqlx::raw_sql(sql).execute(pool).await.unwrap()),
            }
        }

        async fn id(&self, sql: &str) -> i64 {
            match self {
                TestDb::Sqlite(pool, ..) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
                TestDb::Postgres(pool, _) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
            }
        }

        async fn add_user(&self, email: &str, main_password: &str, main_imap_allowed: bool) -> i64 {
            let now = now();
            self.id(&format!(
                "INSERT INTO users (email, password_hash, main_imap_allowed, created_at, password_changed_at) \
                 VALUES ({}, {}, {main_imap_allowed}, {now}, {now}) RETURNING id",
                q(email),
                q(&hash(main_password))
            ))
            .await
        }

        async fn add_app(
            &self,
            user_id: i64,
            password: &str,
            scope: &str,
            nets: Option<&str>,
        ) -> i64 {
            let lookup = &password[..6];
            self.id(&format!(
                "INSERT INTO app_passwords (user_id, name, lookup_id, password_hash, scope, allowed_nets, created_at) \
                 VALUES ({user_id}, {}, {}, {}, {}, {}, {}) RETURNING id",
                q(lookup),
                q(lookup),
                q(&hash(password)),
                q(scope),
                nets.map_or("NULL".to_owned(), q),
                now()
            ))
            .await
        }

        async fn revoke(&self, credential_id: i64) {
            self.exec(&format!(
                "UPDATE app_passwords SET revoked_at = {} WHERE id = {credential_id}",
                now()
            ))
            .await
        }
    }

    fn postgres_admin_url() -> String {
        std::env::var("MAILKEYS_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
    }

    impl Drop for TestDb {
        fn drop(&mut self) {
            if let TestDb::Postgres(_, name) = self {
                let (name, admin) = (name.clone(), postgres_admin_url());
                // Drop runs inside the test's runtime: use a thread with its own.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(async {
                        use sqlx::Connection as _;
                        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                            let _ = sqlx::raw_sql(&sql).execute(&mut conn).await;
                        }
                    });
                })
                .join();
            }
        }
    }

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    fn q(s: &str) -> String {
        format!("'{}'", s.replace('\'', "''"))
    }

    /// `{ARGON2ID}` PHC string with the cheap test cost (m=1024, t=1, p=1).
    fn hash(password: &str) -> String {
        let params = argon2::Params::new(1024, 1, 1, None).unwrap();
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let salt = SaltString::encode_b64(random_hex(8).as_bytes()).unwrap();
        format!(
            "{{ARGON2ID}}{}",
            argon.hash_password(password.as_bytes(), &salt).unwrap()
        )
    }

    /// alice with the three app passwords above and her main password allowed over IMAP.
    async fn alice(db: &TestDb) -> (i64, i64, i64) {
        let user = db.add_user("alice@example.org", MAIN, true).await;
        let phone = db.add_app(user, PHONE, "imap", None).await;
        let laptop = db.add_app(user, LAPTOP, "imap+smtp", None).await;
        let office = db.add_app(user, OFFICE, "imap", Some("10.9.9.0/24")).await;
        (phone, laptop, office)
    }

    #[test]
    fn shipped_sqlite_and_pgsql_queries_are_identical() {
        for which in ["app", "main"] {
            let name = format!("dovecot-sql-mailkeys-{which}.conf.ext");
            let strip = |flavour: &str| -> Vec<String> {
                read_shipped(&format!("{flavour}/{name}"))
                    .lines()
                    .filter(|l| {
                        let t = l.trim_start();
                        !t.starts_with('#') && !t.starts_with("driver") && !t.starts_with("connect")
                    })
                    .map(str::to_owned)
                    .collect()
            };
            assert_eq!(
                strip("sqlite"),
                strip("pgsql"),
                "{name} differs between backends"
            );
        }
    }

    async fn logins_revocation_and_policy_reports(postgres: bool) {
        let db = TestDb::new(postgres).await;
        let (phone, _, _) = alice(&db).await;
        let policy = PolicyRecorder::start().await;
        let dovecot = Dovecot::start(DovecotOptions {
            policy_url: Some(policy.url.clone()),
            policy_secret: Some("policy-secret".into()),
            ..DovecotOptions::new(db.dovecot_db())
        })
        .await;

        let mut held = dovecot
            .imap_login("Alice@Example.org", PHONE)
            .await
            .unwrap_or_else(|e| panic!("app password login: {e}\n{}", dovecot.log()));
        let report = policy
            .wait_for(|r| r.body["credential_id"] == json!(phone.to_string()))
            .await;
        assert_eq!(report.method, "POST");
        assert_eq!(report.target, "/dovecot/auth-policy?command=report");
        assert_eq!(
            report.header("X-Mailkeys-Policy-Secret"),
            Some("policy-secret")
        );
        assert_eq!(report.header("Content-Type"), Some("application/json"));
        assert_eq!(report.body["success"], json!(true));
        assert_eq!(report.body["user"], json!("alice@example.org"));
        assert_eq!(report.body["protocol"], json!("imap"));
        assert_eq!(report.body["remote"], json!("127.0.0.1"));

        dovecot
            .imaps_login("127.0.77.1", "alice@example.org", MAIN)
            .await
            .expect("main password login over IMAPS");
        let report = policy
            .wait_for(|r| r.body["remote"] == json!("127.0.77.1"))
            .await;
        assert_eq!(report.body["success"], json!(true));
        assert_eq!(report.body["credential_id"], json!(""));
        assert_eq!(report.body["tls"], json!(true));

        // Revocation is refused on the very next login (no auth cache); the open session
        // stays until kicked.
        db.revoke(phone).await;
        let refused = dovecot
            .imaps_login("127.0.77.2", "alice@example.org", PHONE)
            .await;
        assert!(
            refused.is_err(),
            "revoked app password still logs in\n{}",
            dovecot.log()
        );
        policy.wait_for(|r| r.body["success"] == json!(false)).await;
        held.noop()
            .await
            .expect("session opened before the revocation is alive");
        let (status, answer) = dovecot
            .doveadm(&json!([["kick", {"mask": ["alice@example.org"]}, "k1"]]))
            .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer[0][0], json!("doveadmResponse"), "{answer}");
        // The kick signals the imap process; the answer may come before it has exited.
        let deadline = Instant::now() + Duration::from_secs(5);
        while held.noop().await.is_ok() {
            assert!(
                Instant::now() < deadline,
                "kicked session still alive\n{}",
                dovecot.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn logins_revocation_and_policy_reports_sqlite() {
        logins_revocation_and_policy_reports(false).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn logins_revocation_and_policy_reports_postgres() {
        logins_revocation_and_policy_reports(true).await
    }

    async fn scopes_networks_and_escaping(postgres: bool) {
        let db = TestDb::new(postgres).await;
        let (_, laptop, office) = alice(&db).await;
        db.add_user("o'hara@example.org", "o'hara's main", true)
            .await;
        db.add_user("bob@example.org", "bob's main password", false)
            .await;
        // Main passwords whose first six bytes end inside an escaped quote or a UTF-8 sequence
        // (the %6w prefix is cut after SQL escaping): they must still work.
        db.add_user("quote@example.org", "abcde'fgh-main", true)
            .await;
        db.add_user("utf8@example.org", "aaaaa\u{e9}xyz-main", true)
            .await;
        let policy = PolicyRecorder::start().await;
        let dovecot = Dovecot::start(DovecotOptions {
            policy_url: Some(policy.url.clone()),
            policy_secret: Some("s".into()),
            ..DovecotOptions::new(db.dovecot_db())
        })
        .await;
        let mut n = 0;
        let mut check =
            |user: &str, password: &str, service: &str, rip: Option<&str>, expect: bool| {
                n += 1;
                let rip = rip.map_or(format!("10.200.0.{n}"), str::to_owned);
                let (user, password, service) =
                    (user.to_owned(), password.to_owned(), service.to_owned());
                let dovecot = &dovecot;
                async move {
                    let result = dovecot.auth_test(&user, &password, &service, &rip).await;
                    assert_eq!(
                        result.ok,
                        expect,
                        "{user} / {password} over {service} from {rip}: {}\n{}",
                        result.output,
                        dovecot.log()
                    );
                    result
                }
            };
        check("alice@example.org", PHONE, "imap", None, true).await;
        check("alice@example.org", PHONE, "smtp", None, false).await;
        check("alice@example.org", PHONE, "submission", None, false).await;
        check("alice@example.org", PHONE, "pop3", None, false).await;
        let ok = check("alice@example.org", LAPTOP, "smtp", None, true).await;
        assert!(
            ok.output.contains(&format!("credential_id={laptop}")),
            "{}",
            ok.output
        );
        check("alice@example.org", LAPTOP, "submission", None, true).await;
        let ok = check("alice@example.org", OFFICE, "imap", Some("10.9.9.7"), true).await;
        assert!(
            ok.output.contains(&format!("credential_id={office}")),
            "{}",
            ok.output
        );
        check("alice@example.org", OFFICE, "imap", Some("10.9.8.7"), false).await;
        check("alice@example.org", MAIN, "imap", None, true).await;
        check("alice@example.org", MAIN, "smtp", None, false).await;
        check(
            "bob@example.org",
            "bob's main password",
            "imap",
            None,
            false,
        )
        .await;
        check("o'hara@example.org", "o'hara's main", "imap", None, true).await;
        check("O'Hara@example.org", "o'hara's main", "imap", None, true).await;
        check(
            "o'hara@example.org' OR ''='",
            "o'hara's main",
            "imap",
            None,
            false,
        )
        .await;
        check("alice@example.org", "k3mfp' OR 'a'='a", "imap", None, false).await;
        check("quote@example.org", "abcde'fgh-main", "imap", None, true).await;
        check(
            "utf8@example.org",
            "aaaaa\u{e9}xyz-main",
            "imap",
            None,
            true,
        )
        .await;
        // A wrong app password costs one argon2 verification (passdb 1); passdb 2 returns no row.
        check(
            "alice@example.org",
            "k3mfpa-wrong-wrong-wrong",
            "imap",
            Some("10.201.0.1"),
            false,
        )
        .await;
        let log = dovecot.log();
        assert!(
            !log.contains("query failed"),
            "SQL errors in the log:\n{log}"
        );
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("sql(alice@example.org,10.201.0.1"))
            .collect();
        let mismatches = lines
            .iter()
            .filter(|l| l.contains("Password mismatch"))
            .count();
        let unknown = lines.iter().filter(|l| l.contains("unknown user")).count();
        assert_eq!((mismatches, unknown), (1, 1), "{lines:#?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scopes_networks_and_escaping_sqlite() {
        scopes_networks_and_escaping(false).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scopes_networks_and_escaping_postgres() {
        scopes_networks_and_escaping(true).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn auth_cache_needs_a_flush_after_revocation() {
        let db = TestDb::new(false).await;
        let (phone, _, _) = alice(&db).await;
        let dovecot = Dovecot::start(DovecotOptions {
            auth_cache: true,
            ..DovecotOptions::new(db.dovecot_db())
        })
        .await;
        assert!(
            dovecot
                .auth_test("alice@example.org", PHONE, "imap", "10.0.0.1")
                .await
                .ok
        );
        db.revoke(phone).await;
        assert!(
            dovecot
                .auth_test("alice@example.org", PHONE, "imap", "10.0.0.2")
                .await
                .ok,
            "expected the cached answer before the flush"
        );
        let (status, answer) = dovecot
            .doveadm(&json!([["authCacheFlush", {"user": ["alice@example.org"]}, "f1"]]))
            .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer[0][0], json!("doveadmResponse"), "{answer}");
        assert!(
            !dovecot
                .auth_test("alice@example.org", PHONE, "imap", "10.0.0.3")
                .await
                .ok
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn logins_stay_fast_when_the_policy_server_is_down() {
        let db = TestDb::new(false).await;
        alice(&db).await;
        let closed = StdTcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/dovecot/auth-policy",
            closed.local_addr().unwrap()
        );
        drop(closed);
        let dovecot = Dovecot::start(DovecotOptions {
            policy_url: Some(url),
            policy_secret: Some("s".into()),
            ..DovecotOptions::new(db.dovecot_db())
        })
        .await;
        for _ in 0..3 {
            let started = Instant::now();
            dovecot
                .imap_login("alice@example.org", PHONE)
                .await
                .expect("login");
            let took = started.elapsed();
            assert!(
                took < Duration::from_millis(1000),
                "login took {took:?}\n{}",
                dovecot.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            dovecot.log().contains("Policy server HTTP error"),
            "{}",
            dovecot.log()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn instances_run_side_by_side() {
        let dbs = [
            TestDb::new(false).await,
            TestDb::new(false).await,
            TestDb::new(true).await,
        ];
        for db in &dbs {
            alice(db).await;
        }
        let (a, b, c) = tokio::join!(
            Dovecot::start(DovecotOptions::new(dbs[0].dovecot_db())),
            Dovecot::start(DovecotOptions::new(dbs[1].dovecot_db())),
            Dovecot::start(DovecotOptions::new(dbs[2].dovecot_db())),
        );
        for dovecot in [&a, &b, &c] {
            dovecot
                .imap_login("alice@example.org", PHONE)
                .await
                .expect("login");
            assert!(dovecot.ca_cert_pem.exists());
        }
    }

    /// The first line a plaintext client reads from `address:port`, connecting from 127.0.0.1.
    async fn greeting(address: Ipv4Addr, port: u16) -> String {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
        let stream = socket.connect((address, port).into()).await.unwrap();
        let mut line = String::new();
        tokio::time::timeout(
            Duration::from_secs(5),
            BufReader::new(stream).read_line(&mut line),
        )
        .await
        .expect("a greeting within 5 s")
        .unwrap();
        line
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn loopback_to_loopback_is_secured_even_with_ssl_required_but_another_address_is_not() {
        let db = TestDb::new(false).await;
        alice(&db).await;
        let (same, other) = tokio::join!(
            Dovecot::start(DovecotOptions {
                ssl_required: true,
                ..DovecotOptions::new(db.dovecot_db())
            }),
            Dovecot::start(DovecotOptions {
                ssl_required: true,
                listen_address: Ipv4Addr::new(127, 0, 0, 2),
                ..DovecotOptions::new(db.dovecot_db())
            }),
        );
        // 127.0.0.1 -> 127.0.0.1: Dovecot 2.3 counts it as secured, ssl = required or not.
        let hello = greeting(same.address, same.imap_port).await;
        assert!(hello.contains("AUTH=PLAIN"), "{hello}");
        assert!(!hello.contains("LOGINDISABLED"), "{hello}");
        same.imap_login("alice@example.org", PHONE)
            .await
            .expect("plaintext login from 127.0.0.1 to 127.0.0.1");

        // 127.0.0.1 -> 127.0.0.2: not secured, as for a remote client.
        assert_eq!(other.address, Ipv4Addr::new(127, 0, 0, 2));
        let hello = greeting(other.address, other.imap_port).await;
        assert!(hello.contains("LOGINDISABLED"), "{hello}");
        assert!(hello.contains("STARTTLS"), "{hello}");
        assert!(!hello.contains("AUTH="), "{hello}");
        let refused = other.imap_login("alice@example.org", PHONE).await;
        assert!(refused.is_err(), "plaintext login before TLS accepted");
        other
            .imaps_login("127.0.0.1", "alice@example.org", PHONE)
            .await
            .unwrap_or_else(|e| panic!("IMAPS on 127.0.0.2: {e}\n{}", other.log()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_baseline_instance_authenticates_from_its_passwd_file_only() {
        let db = TestDb::new(false).await;
        alice(&db).await;
        let users = vec![
            (
                "bench1@example.org".to_owned(),
                "bench one password".to_owned(),
            ),
            (
                "bench2@example.org".to_owned(),
                "bench two password".to_owned(),
            ),
        ];
        let dovecot = Dovecot::start(DovecotOptions {
            baseline_passwd_file: Some(users),
            // Ignored by a baseline: Mailkeys' users must not log in.
            ..DovecotOptions::new(db.dovecot_db())
        })
        .await;
        let config = std::fs::read_to_string(dovecot.config_path()).unwrap();
        assert!(config.contains("90-baseline.conf"), "{config}");
        assert!(!config.contains("90-mailkeys.conf"), "{config}");
        dovecot
            .imap_login("bench1@example.org", "bench one password")
            .await
            .unwrap_or_else(|e| panic!("baseline login: {e}\n{}", dovecot.log()));
        dovecot
            .imaps_login("127.0.0.1", "Bench2@Example.org", "bench two password")
            .await
            .unwrap_or_else(|e| panic!("baseline IMAPS login: {e}\n{}", dovecot.log()));
        assert!(dovecot
            .imap_login("bench1@example.org", "bench two password")
            .await
            .is_err());
        assert!(
            dovecot
                .imap_login("alice@example.org", PHONE)
                .await
                .is_err(),
            "the baseline must not read Mailkeys' database"
        );
        let test = dovecot
            .auth_test(
                "bench2@example.org",
                "bench two password",
                "imap",
                "10.0.0.1",
            )
            .await;
        assert!(test.ok, "{}", test.output);

        let plain = DovecotOptions::baseline(vec![("b@example.org".into(), "pw".into())]);
        let dovecot = Dovecot::start(plain).await;
        dovecot
            .imap_login("b@example.org", "pw")
            .await
            .expect("DovecotOptions::baseline logs in");
    }
}
