//! The one fake IMAP server of the tests: a tiny scripted server on 127.0.0.1, in plaintext,
//! behind STARTTLS or with implicit TLS (certificates from [`crate::certs`]), that records
//! every command it receives.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::ServerConfig;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// What a fake server says.
#[derive(Clone)]
pub struct Script {
    /// The greeting line; `None` to accept and never say a word.
    pub greeting: Option<String>,
    /// Capabilities before STARTTLS (or on an implicit-TLS connection).
    pub capabilities: String,
    /// Capabilities after STARTTLS.
    pub capabilities_after_tls: String,
    /// The completion of LOGIN/AUTHENTICATE after the tag, e.g. `OK Logged in`; or
    /// `BYE …` to say `* BYE …` and hang up.
    pub login_reply: String,
    /// An untagged line sent before the completion of LOGIN/AUTHENTICATE, e.g.
    /// `* NO [ALERT] Your account is locked`.
    pub login_untagged: Option<String>,
    pub exists: u32,
    /// The completion of SELECT after the tag, when not the usual success (e.g. `BAD User
    /// is authenticated but not connected.`).
    pub select_reply: Option<String>,
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
            login_untagged: None,
            exists: 3,
            select_reply: None,
            starttls: None,
            starttls_injection: None,
        }
    }
}

impl Script {
    /// The default script but for its greeting line.
    pub fn greeting(line: &str) -> Self {
        Self {
            greeting: Some(line.into()),
            ..Self::default()
        }
    }

    /// The default script but for the capabilities it announces before TLS.
    pub fn capabilities(capabilities: &str) -> Self {
        Self {
            capabilities: capabilities.into(),
            ..Self::default()
        }
    }

    /// The default script but for its answer to LOGIN and AUTHENTICATE.
    pub fn login_reply(reply: impl Into<String>) -> Self {
        Self {
            login_reply: reply.into(),
            ..Self::default()
        }
    }
}

/// A running fake server; stops (with all its connections) when dropped.
pub struct Fake {
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
/// A fake that accepts connections and never says a word.
pub async fn serve_silent() -> Fake {
    let script = Script {
        greeting: None,
        ..Script::default()
    };
    serve(script, None).await
}

pub async fn serve(script: Script, tls: Option<Arc<ServerConfig>>) -> Fake {
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

/// Writes `text` to the client; `false` when the connection is gone.
async fn send(reader: &mut BufReader<Box<dyn Io>>, text: &str) -> bool {
    reader.get_mut().write_all(text.as_bytes()).await.is_ok()
}

async fn session(io: Box<dyn Io>, script: Script, log: Arc<Mutex<Vec<String>>>) {
    let mut reader = BufReader::new(io);
    let Some(greeting) = &script.greeting else {
        tokio::time::sleep(Duration::from_secs(60)).await;
        return;
    };
    if !send(&mut reader, &format!("{greeting}\r\n")).await {
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
                    send(&mut reader, &format!("{tag} BAD no TLS here\r\n")).await;
                    continue;
                };
                let extra = script
                    .starttls_injection
                    .as_ref()
                    .map(|line| format!("{line}\r\n"))
                    .unwrap_or_default();
                if !send(
                    &mut reader,
                    &format!("{tag} OK Begin TLS negotiation now.\r\n{extra}"),
                )
                .await
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
                let mechanism = words.get(1).map(|w| w.to_ascii_uppercase());
                // SASL LOGIN asks twice ("Username:", then "Password:"); PLAIN without an
                // initial response once.
                let prompts: &[&str] = match (command.as_str(), mechanism.as_deref()) {
                    ("AUTHENTICATE", Some("LOGIN")) => &["VXNlcm5hbWU6", "UGFzc3dvcmQ6"],
                    ("AUTHENTICATE", _) if words.len() == 2 => &[""],
                    _ => &[],
                };
                for prompt in prompts {
                    if !send(&mut reader, &format!("+ {prompt}\r\n")).await {
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
                        send(&mut reader, &format!("* BYE {bye}\r\n")).await;
                        return;
                    }
                    None => {
                        let before = script
                            .login_untagged
                            .as_ref()
                            .map(|line| format!("{line}\r\n"))
                            .unwrap_or_default();
                        format!("{before}{tag} {}\r\n", script.login_reply)
                    }
                }
            }
            "SELECT" if script.select_reply.is_some() => {
                format!("{tag} {}\r\n", script.select_reply.as_deref().unwrap_or(""))
            }
            "SELECT" => format!(
                "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* {} EXISTS\r\n\
                 * 0 RECENT\r\n* OK [UIDVALIDITY 1700000000] UIDs valid\r\n\
                 {tag} OK [READ-WRITE] Select completed.\r\n",
                script.exists
            ),
            "LOGOUT" => {
                send(
                    &mut reader,
                    &format!("* BYE Logging out\r\n{tag} OK Logout completed.\r\n"),
                )
                .await;
                return;
            }
            _ => format!("{tag} BAD Unknown command.\r\n"),
        };
        if !send(&mut reader, &reply).await {
            return;
        }
    }
}
