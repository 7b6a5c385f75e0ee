//! The harness's own small IMAP client: greeting, AUTHENTICATE PLAIN, tagged commands.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

use base64::Engine as _;

/// The client side of an IMAPS connection.
pub type TlsStream = tokio_rustls::client::TlsStream<TcpStream>;

/// A logged-in IMAP connection.
pub struct ImapSession<S = TcpStream> {
    stream: BufReader<S>,
    tag: u32,
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> ImapSession<S> {
    pub(crate) async fn login(stream: S, user: &str, password: &[u8]) -> Result<Self, String> {
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
        plain.extend_from_slice(password);
        let answer = session
            .command(&format!(
                "AUTHENTICATE PLAIN {}",
                base64::engine::general_purpose::STANDARD.encode(&plain)
            ))
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
