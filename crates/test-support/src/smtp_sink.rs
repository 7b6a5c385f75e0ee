//! A real SMTP server on loopback for the notice tests: `tests/fixtures/smtp_sink.py`
//! (aiosmtpd, Debian package python3-aiosmtpd, installed by scripts/test), which writes
//! every message it accepts, with its envelope, as a JSON file. Stopped when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// How the sink protects its connections.
pub enum SinkSecurity<'a> {
    Plain,
    /// STARTTLS (required) with this certificate and key.
    StartTls {
        cert: &'a Path,
        key: &'a Path,
    },
    /// TLS from the first byte.
    Tls {
        cert: &'a Path,
        key: &'a Path,
    },
}

/// One message as the sink received it.
#[derive(Debug, Clone, Deserialize)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// The message as sent: headers and body.
    pub data: String,
    /// It came over TLS (STARTTLS or implicit).
    pub tls: bool,
    /// The client authenticated with the sink's username and password.
    pub authenticated: bool,
}

impl Received {
    /// The message with quoted-printable undone (soft line breaks joined, `=XX` decoded):
    /// the text as a reader sees it.
    pub fn decoded(&self) -> String {
        let joined = self.data.replace("=\r\n", "");
        let bytes = joined.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match (bytes[i], hex) {
                (b'=', Some(byte)) => {
                    out.push(byte);
                    i += 3;
                }
                (b, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The value of the header `name` (first occurrence, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        let mut lines = self.data.split("\r\n").peekable();
        while let Some(line) = lines.next() {
            if line.is_empty() {
                return None;
            }
            if line.to_ascii_lowercase().starts_with(&prefix) {
                let mut value = line[prefix.len()..].trim().to_owned();
                while let Some(next) = lines.peek().filter(|l| l.starts_with([' ', '\t'])) {
                    value.push(' ');
                    value.push_str(next.trim());
                    lines.next();
                }
                return Some(value);
            }
        }
        None
    }
}

pub struct SmtpSink {
    child: Child,
    dir: tempfile::TempDir,
    pub port: u16,
}

/// The Python with the Debian package aiosmtpd (not a pyenv or virtualenv one first on
/// PATH); `MAILKEYS_TEST_PYTHON` overrides it.
fn python() -> String {
    std::env::var("MAILKEYS_TEST_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".to_owned())
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/smtp_sink.py")
}

impl SmtpSink {
    /// Starts the sink on 127.0.0.1:`port`; `auth`: the `user:password` it requires.
    pub fn start(port: u16, security: SinkSecurity<'_>, auth: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new(python());
        command
            .arg(script())
            .args(["--port", &port.to_string()])
            .arg("--dir")
            .arg(dir.path());
        match security {
            SinkSecurity::Plain => {}
            SinkSecurity::StartTls { cert, key } | SinkSecurity::Tls { cert, key } => {
                let mode = if matches!(security, SinkSecurity::Tls { .. }) {
                    "tls"
                } else {
                    "starttls"
                };
                command.args(["--security", mode]);
                command.arg("--cert").arg(cert).arg("--key").arg(key);
            }
        }
        if let Some(auth) = auth {
            command.args(["--auth", auth]);
        }
        // Standard input stays open while the sink should run: it stops when it closes.
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the SMTP sink with {}: {e}", python()));
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert_eq!(
            ready.trim(),
            "ready",
            "the SMTP sink did not start: is python3-aiosmtpd installed (scripts/test installs it)?"
        );
        Self { child, dir, port }
    }

    /// Every message received so far.
    pub fn received(&self) -> Vec<Received> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push(serde_json::from_str(&text).unwrap());
            }
        }
        out
    }

    /// Waits (up to 20 s) until at least `count` messages arrived; returns them all.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the SMTP sink got {} messages, not {count}, within 20 s",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
