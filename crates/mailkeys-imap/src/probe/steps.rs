//! Helpers the steps share: capabilities, greeting text, how wire failures and refusals
//! are described.

use super::*;

pub(super) fn wire_encrypted(wire: &Wire<Transport>) -> bool {
    wire.stream_ref().is_encrypted()
}

pub(super) fn has(capabilities: &[String], wanted: &str) -> bool {
    capabilities.iter().any(|c| c.eq_ignore_ascii_case(wanted))
}

pub(super) fn mechanisms(capabilities: &[String]) -> Vec<String> {
    capabilities
        .iter()
        .filter_map(|c| {
            c.get(..5)
                .filter(|p| p.eq_ignore_ascii_case("AUTH="))
                .map(|_| c[5..].to_ascii_uppercase())
        })
        .collect()
}

pub(super) fn greeting_text(s: &StatusLine) -> String {
    let word = match s.status {
        Status::Ok => "OK",
        Status::No => "NO",
        Status::Bad => "BAD",
        Status::Bye => "BYE",
        Status::Preauth => "PREAUTH",
    };
    match &s.code {
        Some(code) => format!("* {word} [{code}] {}", s.text),
        None => format!("* {word} {}", s.text),
    }
}

/// The error of a command that failed at the wire level, as the step's failure.
pub(super) fn wire_failure(err: WireError, redact: Redactor<'_>) -> StepError {
    match err {
        WireError::Closed => {
            StepError::new(StepFailure::Closed, "The server closed the connection.")
        }
        WireError::Bye(s) => {
            let text = redact.text(&s.text);
            StepError::new(
                StepFailure::Bye {
                    code: s.code.as_deref().map(|c| redact.text(c)),
                    text: text.clone(),
                },
                format!("The server ended the session: {text}"),
            )
        }
        WireError::Protocol(detail) => {
            let detail = redact.text(&detail);
            StepError::new(
                StepFailure::Protocol {
                    detail: detail.clone(),
                },
                format!("The server's answer made no sense: {detail}."),
            )
        }
        WireError::Io(e) => {
            let detail = e.to_string();
            StepError::new(
                StepFailure::Io {
                    detail: detail.clone(),
                },
                format!("The connection broke: {detail}."),
            )
        }
        WireError::Unsendable => StepError::new(
            StepFailure::PasswordNotSendable,
            "The user name or password holds a NUL character, which IMAP cannot carry.",
        ),
    }
}

/// A tagged NO or BAD as the step's failure. The text of any `[ALERT]` (or Gmail's
/// `[WEBALERT]`) the server sent before it is added to its text: servers often put the
/// real reason there and a generic one in the tagged line.
pub(super) fn refused(
    done: &StatusLine,
    untagged: &[Untagged],
    redact: Redactor<'_>,
    what: &str,
) -> StepError {
    let code = done.code.as_deref().map(|c| redact.text(c));
    let alerts: Vec<&str> = untagged
        .iter()
        .filter_map(|u| match u {
            Untagged::Status(s)
                if matches!(s.code_word().as_deref(), Some("ALERT" | "WEBALERT"))
                    && !s.text.trim().is_empty()
                    && s.text != done.text =>
            {
                Some(s.text.as_str())
            }
            _ => None,
        })
        .collect();
    let text = if alerts.is_empty() {
        redact.text(&done.text)
    } else {
        redact.text(&format!("{} ({})", done.text, alerts.join("; ")))
    };
    let word = if done.status == Status::Bad {
        "BAD"
    } else {
        "NO"
    };
    let shown_code = code
        .as_deref()
        .map(|c| format!("[{c}] "))
        .unwrap_or_default();
    StepError::new(
        StepFailure::Refused {
            bad: done.status == Status::Bad,
            code,
            text: text.clone(),
        },
        format!("{what}: {word} {shown_code}{text}"),
    )
}
