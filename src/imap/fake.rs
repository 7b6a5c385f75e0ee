//! Tiny scripted IMAP servers on 127.0.0.1 for the probe's tests, and certificates made
//! with rcgen. Test-only.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// What a fake server says.
#[derive(Clone)]
pub(super) struct Script {
    /// The greeting line; `None` to accept and never say a word.
    pub greeting: Option<String>,
    /// Capabilities before STARTTLS (or on an implicit-TLS connection).
    pub capabilities: String,
    /// Capabilities after STARTTLS.
    pub capabilities_after_tls: String,
    /// The completion of LOGIN/AUTHENTICATE after the tag, e.g. `OK Logged in`; or
    /// `BYE …` to say `* BYE …` and hang up.
    pub login_reply: String,
    pub exists: u32,
    /// Offered behind STARTTLS when set.
    pub starttls: Option<Arc<ServerConfig>>,
    /// A line sent in the same packet as STARTTLS's OK, before TLS: an injection attempt.
    pub starttls_injection: Option<String>,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            greeting: Some("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] Fake ready.".into()),
            capabilities: "IMAP4rev1 AUTH=PLAIN".into(),
            capabilities_after_tls: "IMAP4rev1 AUTH=PLAIN".into(),
            login_reply: "OK [CAPABILITY IMAP4rev1 IDLE] Logged in".into(),
            exists: 3,
            starttls: None,
            starttls_injection: None,
        }
    }
}

/// A running fake server; stops (with all its connections) when dropped.
pub(super) struct Fake {
    pub addr: SocketAddr,
    /// Every command line received, literals inlined.
    pub received: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Fake {
    pub fn received(&self) -> Vec<String> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

/// Serves `script` on 127.0.0.1, in plaintext or (with `tls`) with implicit TLS.
pub(super) async fn serve(script: Script, tls: Option<Arc<ServerConfig>>) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("has an address");
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    let task = tokio::spawn(async move {
        let mut sessions = JoinSet::new();
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (script, log, tls) = (script.clone(), log.clone(), tls.clone());
            sessions.spawn(async move {
                let io: Box<dyn Io> = match tls {
                    Some(config) => match TlsAcceptor::from(config).accept(tcp).await {
                        Ok(stream) => Box::new(stream),
                        Err(_) => return,
                    },
                    None => Box::new(tcp),
                };
                session(io, script, log).await;
            });
        }
    });
    Fake {
        addr,
        received,
        task,
    }
}

/// A port on which nothing listens.
pub(super) async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let port = listener.local_addr().expect("has an address").port();
    drop(listener);
    port
}

async fn read_command(reader: &mut BufReader<Box<dyn Io>>) -> Option<String> {
    let mut line = Vec::new();
    if reader.read_until(b'\n', &mut line).await.ok()? == 0 {
        return None;
    }
    loop {
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        let text = String::from_utf8_lossy(&line).into_owned();
        let Some(len) = text
            .strip_suffix('}')
            .and_then(|t| t.rsplit_once('{'))
            .and_then(|(_, n)| n.parse::<usize>().ok())
        else {
            return Some(text);
        };
        reader.get_mut().write_all(b"+ go ahead\r\n").await.ok()?;
        let mut literal = vec![0; len];
        reader.read_exact(&mut literal).await.ok()?;
        line.extend_from_slice(&literal);
        if reader.read_until(b'\n', &mut line).await.ok()? == 0 {
            return None;
        }
    }
}

async fn session(io: Box<dyn Io>, script: Script, log: Arc<Mutex<Vec<String>>>) {
    let mut reader = BufReader::new(io);
    let Some(greeting) = &script.greeting else {
        tokio::time::sleep(Duration::from_secs(60)).await;
        return;
    };
    if reader
        .get_mut()
        .write_all(format!("{greeting}\r\n").as_bytes())
        .await
        .is_err()
    {
        return;
    }
    let mut capabilities = script.capabilities.clone();
    while let Some(line) = read_command(&mut reader).await {
        if let Ok(mut l) = log.lock() {
            l.push(line.clone());
        }
        let (tag, rest) = line.split_once(' ').unwrap_or((&line, ""));
        let command = rest.split(' ').next().unwrap_or("").to_ascii_uppercase();
        let reply = match command.as_str() {
            "CAPABILITY" => format!("* CAPABILITY {capabilities}\r\n{tag} OK Capability done.\r\n"),
            "STARTTLS" => {
                let Some(config) = script.starttls.clone() else {
                    let _ = reader
                        .get_mut()
                        .write_all(format!("{tag} BAD no TLS here\r\n").as_bytes())
                        .await;
                    continue;
                };
                let extra = script
                    .starttls_injection
                    .as_ref()
                    .map(|line| format!("{line}\r\n"))
                    .unwrap_or_default();
                if reader
                    .get_mut()
                    .write_all(format!("{tag} OK Begin TLS negotiation now.\r\n{extra}").as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
                let plain = reader.into_inner();
                let Ok(tls) = TlsAcceptor::from(config).accept(plain).await else {
                    return;
                };
                reader = BufReader::new(Box::new(tls));
                capabilities = script.capabilities_after_tls.clone();
                continue;
            }
            "LOGIN" | "AUTHENTICATE" => {
                let words: Vec<&str> = rest.split(' ').collect();
                if command == "AUTHENTICATE" && words.len() == 2 {
                    if reader.get_mut().write_all(b"+ \r\n").await.is_err() {
                        return;
                    }
                    let mut answer = String::new();
                    if reader.read_line(&mut answer).await.is_err() {
                        return;
                    }
                    if let Ok(mut l) = log.lock() {
                        l.push(answer.trim_end().to_owned());
                    }
                }
                match script.login_reply.strip_prefix("BYE ") {
                    Some(bye) => {
                        let _ = reader
                            .get_mut()
                            .write_all(format!("* BYE {bye}\r\n").as_bytes())
                            .await;
                        return;
                    }
                    None => format!("{tag} {}\r\n", script.login_reply),
                }
            }
            "SELECT" => format!(
                "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* {} EXISTS\r\n\
                 * 0 RECENT\r\n* OK [UIDVALIDITY 1700000000] UIDs valid\r\n\
                 {tag} OK [READ-WRITE] Select completed.\r\n",
                script.exists
            ),
            "LOGOUT" => {
                let _ = reader
                    .get_mut()
                    .write_all(
                        format!("* BYE Logging out\r\n{tag} OK Logout completed.\r\n").as_bytes(),
                    )
                    .await;
                return;
            }
            _ => format!("{tag} BAD Unknown command.\r\n"),
        };
        if reader.get_mut().write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// A test certificate authority, its PEM in a temporary file for `ca_file`.
pub(super) struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    pub pem_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestCa {
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Mailkeys Test CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("CA certificate");
        let dir = tempfile::tempdir().expect("tempdir");
        let pem_file = dir.path().join("ca.pem");
        std::fs::write(&pem_file, issuer.pem()).expect("writes the CA");
        Self {
            issuer,
            pem_file,
            _dir: dir,
        }
    }

    /// A server configuration with a certificate this CA issued for `names`, valid between
    /// the two years given.
    pub fn server(&self, names: &[&str], from_year: i32, to_year: i32) -> Arc<ServerConfig> {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("params");
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = rcgen::date_time_ymd(from_year, 1, 1);
        params.not_after = rcgen::date_time_ymd(to_year, 1, 1);
        let key = KeyPair::generate().expect("key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        server_config(cert.der().clone(), &key)
    }
}

/// A server configuration with a self-signed certificate for `names`.
pub(super) fn self_signed_server(names: &[&str]) -> Arc<ServerConfig> {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names.clone()).expect("params");
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().cloned().unwrap_or_default(),
    );
    let key = KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("certificate");
    server_config(cert.der().clone(), &key)
}

fn server_config(cert: CertificateDer<'static>, key: &KeyPair) -> Arc<ServerConfig> {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .expect("server config");
    Arc::new(config)
}
