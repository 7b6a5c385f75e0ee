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

use std::io;

use secrecy::zeroize::Zeroizing;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub(crate) const MAX_LINE: usize = 16 * 1024;
pub(crate) const MAX_LITERAL: usize = 64 * 1024;
pub(crate) const MAX_RESPONSE_LINES: usize = 5_000;

#[derive(Debug)]
pub(crate) enum WireError {
    Io(io::Error),
    /// The server closed the connection.
    Closed,
    /// The server said `* BYE` and closed the connection before completing the command.
    Bye(StatusLine),
    /// Something that is not IMAP, or too much of it.
    Protocol(String),
    /// A credential holds a NUL byte, which no IMAP string can carry.
    Unsendable,
}

impl From<io::Error> for WireError {
    fn from(err: io::Error) -> Self {
        match err.kind() {
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => Self::Closed,
            _ => Self::Io(err),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    No,
    Bad,
    Bye,
    Preauth,
}

/// A status response: its status word, response code (without brackets) and text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StatusLine {
    pub status: Status,
    pub code: Option<String>,
    pub text: String,
}

impl StatusLine {
    /// The response code's first word, upper-cased: `UNAVAILABLE`, `CAPABILITY`, …
    pub fn code_word(&self) -> Option<String> {
        self.code
            .as_deref()
            .and_then(|c| c.split_whitespace().next())
            .map(str::to_ascii_uppercase)
    }

    /// Capabilities carried in a `[CAPABILITY …]` response code.
    pub fn capabilities(&self) -> Option<Vec<String>> {
        let code = self.code.as_deref()?;
        let mut words = code.split_whitespace();
        let first = words.next()?;
        first
            .eq_ignore_ascii_case("CAPABILITY")
            .then(|| words.map(str::to_owned).collect())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Untagged {
    Status(StatusLine),
    Capability(Vec<String>),
    Exists(u32),
    Other(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Line {
    Untagged(Untagged),
    Tagged { tag: String, status: StatusLine },
    Continuation(String),
}

/// A command's untagged data and its tagged completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Response {
    pub untagged: Vec<Untagged>,
    pub done: StatusLine,
}

impl Response {
    /// Capabilities from an untagged CAPABILITY or a `[CAPABILITY …]` code, if any.
    pub fn capabilities(&self) -> Option<Vec<String>> {
        let untagged = self.untagged.iter().rev().find_map(|u| match u {
            Untagged::Capability(caps) => Some(caps.clone()),
            Untagged::Status(s) => s.capabilities(),
            _ => None,
        });
        untagged.or_else(|| self.done.capabilities())
    }

    pub fn exists(&self) -> Option<u32> {
        self.untagged.iter().rev().find_map(|u| match u {
            Untagged::Exists(n) => Some(*n),
            _ => None,
        })
    }
}

fn status_word(word: &str) -> Option<Status> {
    match word.to_ascii_uppercase().as_str() {
        "OK" => Some(Status::Ok),
        "NO" => Some(Status::No),
        "BAD" => Some(Status::Bad),
        "BYE" => Some(Status::Bye),
        "PREAUTH" => Some(Status::Preauth),
        _ => None,
    }
}

/// `[CODE args] text` or `text`, after the status word.
fn parse_status_rest(status: Status, rest: &str) -> StatusLine {
    let rest = rest.trim_start();
    if let Some(inner) = rest.strip_prefix('[') {
        if let Some(end) = inner.find(']') {
            return StatusLine {
                status,
                code: Some(inner[..end].trim().to_owned()),
                text: inner[end + 1..].trim().to_owned(),
            };
        }
    }
    StatusLine {
        status,
        code: None,
        text: rest.trim_end().to_owned(),
    }
}

fn split_word(s: &str) -> (&str, &str) {
    match s.split_once(' ') {
        Some((word, rest)) => (word, rest),
        None => (s, ""),
    }
}

/// Parses one response line (without its CRLF).
pub(crate) fn parse_line(line: &str) -> Result<Line, String> {
    if let Some(rest) = line.strip_prefix('+') {
        return Ok(Line::Continuation(rest.trim().to_owned()));
    }
    if let Some(rest) = line.strip_prefix("* ") {
        let (word, after) = split_word(rest);
        if let Some(status) = status_word(word) {
            return Ok(Line::Untagged(Untagged::Status(parse_status_rest(
                status, after,
            ))));
        }
        if word.eq_ignore_ascii_case("CAPABILITY") {
            let caps = after.split_whitespace().map(str::to_owned).collect();
            return Ok(Line::Untagged(Untagged::Capability(caps)));
        }
        if let Ok(n) = word.parse::<u32>() {
            let (what, _) = split_word(after);
            if what.eq_ignore_ascii_case("EXISTS") {
                return Ok(Line::Untagged(Untagged::Exists(n)));
            }
        }
        return Ok(Line::Untagged(Untagged::Other(rest.to_owned())));
    }
    let (tag, rest) = split_word(line);
    let (word, after) = split_word(rest);
    match status_word(word) {
        Some(status @ (Status::Ok | Status::No | Status::Bad)) if !tag.is_empty() => {
            Ok(Line::Tagged {
                tag: tag.to_owned(),
                status: parse_status_rest(status, after),
            })
        }
        _ => Err("a line that is not an IMAP response".into()),
    }
}

/// The length of a literal announced at the end of a line: `{12}` or `{12+}`.
fn literal_length(line: &[u8]) -> Option<usize> {
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    let digits = &body[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// How a string argument goes on the wire.
enum Encoded {
    /// A quoted string, quotes and escapes included.
    Quoted(Zeroizing<Vec<u8>>),
    /// A synchronising literal of these bytes.
    Literal(Zeroizing<Vec<u8>>),
}

/// RFC 3501 `astring` as quoted string when it is plain printable ASCII, as a literal
/// otherwise (8-bit, CR or LF). NUL cannot be sent at all.
fn encode_string(value: &[u8]) -> Result<Encoded, WireError> {
    if value.contains(&0) {
        return Err(WireError::Unsendable);
    }
    if value.iter().all(|b| (0x20..=0x7e).contains(b)) {
        let mut out = Zeroizing::new(Vec::with_capacity(value.len() + 2));
        out.push(b'"');
        for &b in value {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
        Ok(Encoded::Quoted(out))
    } else {
        Ok(Encoded::Literal(Zeroizing::new(value.to_vec())))
    }
}

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
            let line = match self.read_parsed().await {
                Ok(line) => line,
                Err(WireError::Closed) => return Err(closed_after(&untagged)),
                Err(other) => return Err(other),
            };
            match line {
                Line::Tagged { tag: t, status } if t == tag => {
                    return Ok(Response {
                        untagged,
                        done: status,
                    })
                }
                Line::Tagged { .. } => {
                    return Err(WireError::Protocol(
                        "the server answered a command that was not sent".into(),
                    ))
                }
                Line::Continuation(_) => {
                    return Err(WireError::Protocol(
                        "the server asked for more data where none was due".into(),
                    ))
                }
                Line::Untagged(u) => untagged.push(u),
            }
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
                let line = match self.read_parsed().await {
                    Ok(line) => line,
                    Err(WireError::Closed) => return Err(closed_after(&untagged)),
                    Err(other) => return Err(other),
                };
                match line {
                    Line::Continuation(_) => break,
                    Line::Tagged { tag: t, status } if t == tag => {
                        return Ok(Response {
                            untagged,
                            done: status,
                        })
                    }
                    Line::Tagged { .. } => {
                        return Err(WireError::Protocol(
                            "the server answered a command that was not sent".into(),
                        ))
                    }
                    Line::Untagged(u) => {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn status(line: &str) -> StatusLine {
        match parse_line(line) {
            Ok(Line::Untagged(Untagged::Status(s))) | Ok(Line::Tagged { status: s, .. }) => s,
            other => panic!("not a status line: {other:?}"),
        }
    }

    #[test]
    fn a_greeting_with_a_capability_code_gives_its_capabilities() {
        let s = status("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Dovecot ready.");
        assert_eq!(s.status, Status::Ok);
        assert_eq!(
            s.capabilities(),
            Some(vec![
                "IMAP4rev1".to_owned(),
                "STARTTLS".to_owned(),
                "LOGINDISABLED".to_owned()
            ])
        );
        assert_eq!(s.text, "Dovecot ready.");
    }

    #[test]
    fn a_bye_with_unavailable_keeps_its_code_and_text() {
        let s = status("* BYE [UNAVAILABLE] Server shutting down");
        assert_eq!(s.status, Status::Bye);
        assert_eq!(s.code_word().as_deref(), Some("UNAVAILABLE"));
        assert_eq!(s.text, "Server shutting down");
    }

    #[test]
    fn a_tagged_no_keeps_its_tag_and_code() {
        match parse_line("mk2 NO [AUTHENTICATIONFAILED] Authentication failed.") {
            Ok(Line::Tagged { tag, status }) => {
                assert_eq!(tag, "mk2");
                assert_eq!(status.status, Status::No);
                assert_eq!(status.code.as_deref(), Some("AUTHENTICATIONFAILED"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn status_words_are_case_insensitive() {
        assert_eq!(status("* ok hi").status, Status::Ok);
        assert_eq!(status("a1 bad what").status, Status::Bad);
    }

    #[test]
    fn exists_and_capability_lines_are_recognised() {
        assert_eq!(
            parse_line("* 3 EXISTS"),
            Ok(Line::Untagged(Untagged::Exists(3)))
        );
        assert_eq!(
            parse_line("* CAPABILITY IMAP4rev1 AUTH=PLAIN"),
            Ok(Line::Untagged(Untagged::Capability(vec![
                "IMAP4rev1".into(),
                "AUTH=PLAIN".into()
            ])))
        );
        assert_eq!(
            parse_line("* 0 RECENT"),
            Ok(Line::Untagged(Untagged::Other("0 RECENT".into())))
        );
    }

    #[test]
    fn a_continuation_and_garbage_are_told_apart() {
        assert_eq!(
            parse_line("+ go ahead"),
            Ok(Line::Continuation("go ahead".into()))
        );
        assert!(parse_line("SSH-2.0-OpenSSH_9.2").is_err());
        assert!(parse_line("HTTP/1.1 400 Bad Request").is_err());
    }

    #[test]
    fn a_literal_length_is_read_from_the_end_of_a_line() {
        assert_eq!(literal_length(b"* 1 FETCH (BODY[] {12}"), Some(12));
        assert_eq!(literal_length(b"a LOGIN {5+}"), Some(5));
        assert_eq!(literal_length(b"* OK {x}"), None);
        assert_eq!(literal_length(b"* OK done"), None);
    }

    #[test]
    fn plain_passwords_are_quoted_with_escapes() {
        match encode_string(br#"pa"ss\word"#) {
            Ok(Encoded::Quoted(q)) => assert_eq!(&q[..], br#""pa\"ss\\word""#),
            _ => panic!("expected a quoted string"),
        }
    }

    #[test]
    fn eight_bit_and_line_breaks_go_as_literals_and_nul_not_at_all() {
        assert!(matches!(
            encode_string("pässword".as_bytes()),
            Ok(Encoded::Literal(_))
        ));
        assert!(matches!(encode_string(b"a\r\nb"), Ok(Encoded::Literal(_))));
        assert!(matches!(encode_string(b"a\0b"), Err(WireError::Unsendable)));
    }

    async fn scripted(
        server_says: &'static [u8],
    ) -> (Wire<tokio::io::DuplexStream>, tokio::io::DuplexStream) {
        let (client, mut server) = tokio::io::duplex(64 * 1024);
        server.write_all(server_says).await.expect("script fits");
        (Wire::new(client), server)
    }

    #[tokio::test]
    async fn a_login_with_a_literal_waits_for_the_go_ahead() {
        let (mut wire, mut server) =
            scripted(b"+ go\r\nmk1 OK [CAPABILITY IMAP4rev1] in\r\n").await;
        let response = wire
            .login(b"ann", "sécret".as_bytes())
            .await
            .expect("logs in");
        assert_eq!(response.done.status, Status::Ok);
        assert_eq!(response.capabilities(), Some(vec!["IMAP4rev1".to_owned()]));
        drop(wire);
        let mut sent = Vec::new();
        server.read_to_end(&mut sent).await.expect("reads");
        let mut expected = b"mk1 LOGIN \"ann\" {7}\r\n".to_vec();
        expected.extend_from_slice("sécret".as_bytes());
        expected.extend_from_slice(b"\r\n");
        assert_eq!(sent, expected);
    }

    #[tokio::test]
    async fn a_no_before_the_literal_stops_the_password_from_being_sent() {
        let (mut wire, mut server) = scripted(b"mk1 NO [UNAVAILABLE] later\r\n").await;
        let response = wire
            .login(b"ann", "sécret".as_bytes())
            .await
            .expect("answers");
        assert_eq!(response.done.status, Status::No);
        drop(wire);
        let mut sent = Vec::new();
        server.read_to_end(&mut sent).await.expect("reads");
        assert_eq!(sent, b"mk1 LOGIN \"ann\" {7}\r\n");
    }

    #[tokio::test]
    async fn authenticate_plain_with_sasl_ir_sends_one_line() {
        let (mut wire, mut server) = scripted(b"mk1 OK done\r\n").await;
        let response = wire
            .authenticate_plain(b"ann", b"pw", true)
            .await
            .expect("answers");
        assert_eq!(response.done.status, Status::Ok);
        drop(wire);
        let mut sent = Vec::new();
        server.read_to_end(&mut sent).await.expect("reads");
        // base64("\0ann\0pw")
        assert_eq!(sent, b"mk1 AUTHENTICATE PLAIN AGFubgBwdw==\r\n");
    }

    #[tokio::test]
    async fn a_bye_then_close_is_reported_as_bye() {
        let (mut wire, server) = scripted(b"* BYE [UNAVAILABLE] going down\r\n").await;
        drop(server);
        match wire.command("CAPABILITY").await {
            Err(WireError::Bye(s)) => assert_eq!(s.code_word().as_deref(), Some("UNAVAILABLE")),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_response_collects_untagged_data_until_its_tag() {
        let (mut wire, _server) =
            scripted(b"* FLAGS (\\Seen)\r\n* 3 EXISTS\r\n* OK [UIDVALIDITY 1] x\r\nmk1 OK [READ-WRITE] done\r\n")
                .await;
        let response = wire.command("SELECT INBOX").await.expect("selects");
        assert_eq!(response.exists(), Some(3));
        assert_eq!(response.done.code.as_deref(), Some("READ-WRITE"));
    }

    #[tokio::test]
    async fn an_endless_line_is_cut_off() {
        let (client, mut server) = tokio::io::duplex(64 * 1024);
        let mut wire = Wire::new(client);
        let writer = tokio::spawn(async move {
            let junk = vec![b'x'; MAX_LINE + 10];
            let _ = server.write_all(&junk).await;
            server
        });
        assert!(matches!(
            wire.read_line().await,
            Err(WireError::Protocol(_))
        ));
        drop(writer);
    }

    #[tokio::test]
    async fn a_literal_in_a_response_is_inlined() {
        let (mut wire, _server) = scripted(b"* OK {5}\r\nhello there\r\n").await;
        assert_eq!(wire.read_line().await.expect("reads"), "* OK hello there");
    }
}
