//! Just enough IMAP (RFC 9051 / 3501) for a connection test: read the greeting, run tagged
//! commands and collect their untagged data, and send credentials safely.
//!
//! Written by hand rather than with an IMAP crate for two reasons: the test needs the raw
//! facts a full client hides (a binary greeting, a `* BYE [UNAVAILABLE]`, the exact response
//! code of a `NO`), and credentials must never reach a logger (async-imap traces every
//! command it encodes, LOGIN included, through the `log` crate, which the app forwards to
//! `tracing`). Here the password is written straight from a zeroized buffer to the socket
//! and never formatted into a string anything could print.
//!
//! Every read is bounded: lines to [`MAX_LINE`] bytes, literals to [`MAX_LITERAL`], a
//! response to [`MAX_RESPONSE_LINES`] lines. Time limits are the caller's job.
//!
//! - `parse`: the server's lines (status, untagged data, response codes) and the limits;
//! - this module: the connection ([`Wire`]): greeting, tagged commands, LOGIN and
//!   AUTHENTICATE PLAIN with the password written from a zeroized buffer.

mod parse;
#[cfg(test)]
mod tests;

pub(crate) use parse::*;

use secrecy::zeroize::Zeroizing;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
/// A connection speaking IMAP over any byte stream.
pub(crate) struct Wire<S> {
    stream: S,
    buf: Vec<u8>,
    next_tag: u32,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Wire<S> {
    pub fn new(stream: S) -> Self {
        Self {
            stream,
            buf: Vec::with_capacity(4096),
            next_tag: 1,
        }
    }

    /// Continues a session on a new stream (after STARTTLS), keeping tags unique.
    pub fn resume(stream: S, next_tag: u32) -> Self {
        Self {
            next_tag,
            ..Self::new(stream)
        }
    }

    pub fn next_tag(&self) -> u32 {
        self.next_tag
    }

    pub fn stream_ref(&self) -> &S {
        &self.stream
    }

    /// The stream back, with whatever was read from it but not yet consumed.
    pub fn into_parts(self) -> (S, Vec<u8>) {
        (self.stream, self.buf)
    }

    async fn fill(&mut self) -> Result<(), WireError> {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(WireError::Closed);
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// Waits for the first bytes the server sends and shows them without consuming them.
    pub async fn peek_first(&mut self) -> Result<&[u8], WireError> {
        if self.buf.is_empty() {
            self.fill().await?;
        }
        Ok(&self.buf)
    }

    /// One raw line without its line ending.
    async fn read_raw_line(&mut self) -> Result<Vec<u8>, WireError> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=pos).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.buf.len() > MAX_LINE {
                return Err(WireError::Protocol(format!(
                    "the server sent a line longer than {MAX_LINE} bytes"
                )));
            }
            self.fill().await?;
        }
    }

    /// One logical response line: literals inside it are read and inlined (lossily).
    pub async fn read_line(&mut self) -> Result<String, WireError> {
        let mut line = self.read_raw_line().await?;
        while let Some(len) = literal_length(&line) {
            if len > MAX_LITERAL || line.len() + len > MAX_LINE + MAX_LITERAL {
                return Err(WireError::Protocol(format!(
                    "the server sent a literal of {len} bytes"
                )));
            }
            while self.buf.len() < len {
                self.fill().await?;
            }
            if let Some(open) = line.iter().rposition(|&b| b == b'{') {
                line.truncate(open);
            }
            line.extend(self.buf.drain(..len));
            let rest = self.read_raw_line().await?;
            line.extend_from_slice(&rest);
        }
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    async fn read_parsed(&mut self) -> Result<Line, WireError> {
        let line = self.read_line().await?;
        parse_line(&line).map_err(WireError::Protocol)
    }

    fn tag(&mut self) -> String {
        let tag = format!("mk{}", self.next_tag);
        self.next_tag += 1;
        tag
    }

    /// Reads until the completion tagged `tag`, collecting untagged data. A `BYE` followed
    /// by a closed connection becomes [`WireError::Bye`].
    async fn read_response(
        &mut self,
        tag: &str,
        mut untagged: Vec<Untagged>,
    ) -> Result<Response, WireError> {
        loop {
            if untagged.len() > MAX_RESPONSE_LINES {
                return Err(WireError::Protocol(format!(
                    "the server sent more than {MAX_RESPONSE_LINES} lines in one response"
                )));
            }
            match self.next_for(tag, &untagged).await? {
                Next::Done(status) => {
                    return Ok(Response {
                        untagged,
                        done: status,
                    })
                }
                Next::Continuation => {
                    return Err(WireError::Protocol(
                        "the server asked for more data where none was due".into(),
                    ))
                }
                Next::Untagged(u) => untagged.push(u),
            }
        }
    }

    /// Reads the next line of the response to the command tagged `tag`, of which `untagged`
    /// has come so far; a completion of another tag is an error.
    async fn next_for(&mut self, tag: &str, untagged: &[Untagged]) -> Result<Next, WireError> {
        let line = match self.read_parsed().await {
            Ok(line) => line,
            Err(WireError::Closed) => return Err(closed_after(untagged)),
            Err(other) => return Err(other),
        };
        match line {
            Line::Tagged { tag: t, status } if t == tag => Ok(Next::Done(status)),
            Line::Tagged { .. } => Err(WireError::Protocol(
                "the server answered a command that was not sent".into(),
            )),
            Line::Continuation(_) => Ok(Next::Continuation),
            Line::Untagged(u) => Ok(Next::Untagged(u)),
        }
    }

    /// Sends a command made only of atoms (no user data) and reads its response.
    pub async fn command(&mut self, command: &str) -> Result<Response, WireError> {
        let tag = self.tag();
        let line = format!("{tag} {command}\r\n");
        self.send(line.as_bytes()).await?;
        self.read_response(&tag, Vec::new()).await
    }

    /// Writes and flushes. If the server already hung up, reads what it said before (a
    /// `* BYE [UNAVAILABLE]` explains more than a broken pipe).
    async fn send(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        let written = match self.stream.write_all(bytes).await {
            Ok(()) => self.stream.flush().await,
            Err(e) => Err(e),
        };
        match written.map_err(WireError::from) {
            Ok(()) => Ok(()),
            Err(WireError::Closed) => Err(self.last_words().await),
            Err(other) => Err(other),
        }
    }

    /// What a server that closed the connection said last: its `BYE`, if it sent one.
    async fn last_words(&mut self) -> WireError {
        let mut seen = Vec::new();
        while seen.len() < MAX_RESPONSE_LINES {
            match self.read_parsed().await {
                Ok(Line::Untagged(u)) => seen.push(u),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        closed_after(&seen)
    }

    /// `LOGIN user password`, each as a quoted string or a synchronising literal.
    pub async fn login(&mut self, username: &[u8], password: &[u8]) -> Result<Response, WireError> {
        let user = encode_string(username)?;
        let pass = encode_string(password)?;
        let tag = self.tag();
        // Pieces of the command, each ending where the server must say "+" before the next.
        let mut pieces: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        let mut current = Zeroizing::new(format!("{tag} LOGIN ").into_bytes());
        for (i, arg) in [user, pass].into_iter().enumerate() {
            if i > 0 {
                current.push(b' ');
            }
            match arg {
                Encoded::Quoted(q) => current.extend_from_slice(&q),
                Encoded::Literal(bytes) => {
                    current.extend_from_slice(format!("{{{}}}\r\n", bytes.len()).as_bytes());
                    pieces.push(std::mem::replace(&mut current, bytes));
                }
            }
        }
        current.extend_from_slice(b"\r\n");
        pieces.push(current);
        self.send_pieces(&tag, pieces).await
    }

    /// `AUTHENTICATE PLAIN`, with the initial response on the command line when the server
    /// announced SASL-IR, after its "+" otherwise.
    pub async fn authenticate_plain(
        &mut self,
        username: &[u8],
        password: &[u8],
        sasl_ir: bool,
    ) -> Result<Response, WireError> {
        use base64::Engine as _;
        if username.contains(&0) || password.contains(&0) {
            return Err(WireError::Unsendable);
        }
        let mut message = Zeroizing::new(Vec::with_capacity(username.len() + password.len() + 2));
        message.push(0);
        message.extend_from_slice(username);
        message.push(0);
        message.extend_from_slice(password);
        let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*message));
        let tag = self.tag();
        let pieces = if sasl_ir {
            let mut line = Zeroizing::new(format!("{tag} AUTHENTICATE PLAIN ").into_bytes());
            line.extend_from_slice(encoded.as_bytes());
            line.extend_from_slice(b"\r\n");
            vec![line]
        } else {
            let first = Zeroizing::new(format!("{tag} AUTHENTICATE PLAIN\r\n").into_bytes());
            let mut second = Zeroizing::new(encoded.as_bytes().to_vec());
            second.extend_from_slice(b"\r\n");
            vec![first, second]
        };
        self.send_pieces(&tag, pieces).await
    }

    /// `AUTHENTICATE LOGIN` (SASL LOGIN): the user name after the server's first "+", the
    /// password after its second, each in base64.
    pub async fn authenticate_login(
        &mut self,
        username: &[u8],
        password: &[u8],
    ) -> Result<Response, WireError> {
        use base64::Engine as _;
        let b64 = |bytes: &[u8]| {
            let mut line = Zeroizing::new(
                base64::engine::general_purpose::STANDARD
                    .encode(bytes)
                    .into_bytes(),
            );
            line.extend_from_slice(b"\r\n");
            line
        };
        let tag = self.tag();
        let first = Zeroizing::new(format!("{tag} AUTHENTICATE LOGIN\r\n").into_bytes());
        let pieces = vec![first, b64(username), b64(password)];
        self.send_pieces(&tag, pieces).await
    }

    /// Sends the pieces of one command, waiting for a continuation between them. If the
    /// server completes the command instead (a `NO` before the password), stops there.
    async fn send_pieces(
        &mut self,
        tag: &str,
        pieces: Vec<Zeroizing<Vec<u8>>>,
    ) -> Result<Response, WireError> {
        let mut untagged = Vec::new();
        let count = pieces.len();
        for (i, piece) in pieces.into_iter().enumerate() {
            self.send(&piece).await?;
            drop(piece);
            if i + 1 == count {
                break;
            }
            loop {
                match self.next_for(tag, &untagged).await? {
                    Next::Continuation => break,
                    Next::Done(status) => {
                        return Ok(Response {
                            untagged,
                            done: status,
                        })
                    }
                    Next::Untagged(u) => {
                        if untagged.len() > MAX_RESPONSE_LINES {
                            return Err(WireError::Protocol(
                                "the server sent too many lines".into(),
                            ));
                        }
                        untagged.push(u);
                    }
                }
            }
        }
        self.read_response(tag, untagged).await
    }
}

/// A line of a response, as the command that awaits it sees it.
enum Next {
    /// The command's own tagged completion.
    Done(StatusLine),
    /// `+`: the server waits for more of the command.
    Continuation,
    Untagged(Untagged),
}

fn closed_after(untagged: &[Untagged]) -> WireError {
    untagged
        .iter()
        .rev()
        .find_map(|u| match u {
            Untagged::Status(s) if s.status == Status::Bye => Some(WireError::Bye(s.clone())),
            _ => None,
        })
        .unwrap_or(WireError::Closed)
}
