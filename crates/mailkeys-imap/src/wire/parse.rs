//! The server's side of IMAP as this client reads it: status lines, untagged data, response
//! codes, literals, and the bounds on every read.

use std::io;

use secrecy::zeroize::Zeroizing;

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

pub(super) fn status_word(word: &str) -> Option<Status> {
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
pub(super) fn parse_status_rest(status: Status, rest: &str) -> StatusLine {
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

pub(super) fn split_word(s: &str) -> (&str, &str) {
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
pub(super) fn literal_length(line: &[u8]) -> Option<usize> {
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
pub(super) enum Encoded {
    /// A quoted string, quotes and escapes included.
    Quoted(Zeroizing<Vec<u8>>),
    /// A synchronising literal of these bytes.
    Literal(Zeroizing<Vec<u8>>),
}

/// RFC 3501 `astring` as quoted string when it is plain printable ASCII, as a literal
/// otherwise (8-bit, CR or LF). NUL cannot be sent at all.
pub(super) fn encode_string(value: &[u8]) -> Result<Encoded, WireError> {
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
