//! The IMAP steps: greeting, CAPABILITY, STARTTLS, LOGIN, SELECT INBOX, LOGOUT.

use super::*;

/// The response of a command when the server answered OK; otherwise the step's error, with
/// `refusal` saying what a NO or BAD means.
fn accepted(
    result: Result<Response, WireError>,
    redact: Redactor<'_>,
    refusal: &str,
) -> Result<Response, StepError> {
    let response = result.map_err(|e| wire_failure(e, redact))?;
    if response.done.status != Status::Ok {
        return Err(refused(&response.done, &response.untagged, redact, refusal));
    }
    Ok(response)
}

pub(super) async fn greet(
    wire: &mut Wire<Transport>,
    redact: Redactor<'_>,
) -> StepResult<StatusLine> {
    let first = wire.peek_first().await.map_err(|e| match e {
        WireError::Closed => StepError::new(
            StepFailure::Closed,
            "The server closed the connection without a greeting.",
        ),
        other => wire_failure(other, redact),
    })?;
    if !first.starts_with(b"*") {
        let looks_like_tls = tls::looks_like_tls(first);
        let sample = redact.bytes(first);
        let summary = if looks_like_tls {
            format!("The server answered with TLS data (\u{201c}{sample}\u{201d}), not an IMAP greeting.")
        } else {
            format!("The server's first words are not IMAP: \u{201c}{sample}\u{201d}")
        };
        return Err(StepError::new(
            StepFailure::NotImap {
                looks_like_tls,
                sample,
            },
            summary,
        ));
    }
    let began = redact.bytes(first);
    let line = wire.read_line().await.map_err(|e| match e {
        WireError::Closed => StepError::new(
            StepFailure::PartialGreeting {
                sample: began.clone(),
            },
            format!(
                "The server began a greeting (\u{201c}{began}\u{201d}) and closed the \
                 connection before finishing it."
            ),
        ),
        other => wire_failure(other, redact),
    })?;
    let shown = redact.text(&line);
    let status = match crate::wire::parse_line(&line) {
        Ok(crate::wire::Line::Untagged(Untagged::Status(s))) => s,
        _ => {
            return Err(StepError::new(
                StepFailure::NotImap {
                    looks_like_tls: false,
                    sample: shown.clone(),
                },
                format!("The greeting is not IMAP: \u{201c}{shown}\u{201d}"),
            ))
        }
    };
    let unavailable = status.code_word().as_deref() == Some("UNAVAILABLE");
    match status.status {
        Status::Ok if !unavailable => Ok((
            status,
            format!("The server greeted: \u{201c}{shown}\u{201d}"),
        )),
        Status::Preauth => Err(StepError::new(
            StepFailure::Preauth,
            format!("The server let us in before we signed in: \u{201c}{shown}\u{201d}"),
        )),
        _ => Err(StepError::new(
            StepFailure::Bye {
                code: status.code.as_deref().map(|c| redact.text(c)),
                text: redact.text(&status.text),
            },
            format!("The server turned us away: \u{201c}{shown}\u{201d}"),
        )),
    }
}

pub(super) async fn capability(
    wire: &mut Wire<Transport>,
    known: Vec<String>,
    redact: Redactor<'_>,
) -> StepResult<Vec<String>> {
    let response = accepted(
        wire.command("CAPABILITY").await,
        redact,
        "CAPABILITY was refused",
    )?;
    let capabilities: Vec<String> = response
        .capabilities()
        .unwrap_or(known)
        .iter()
        .map(|c| redact.text(c))
        .collect();
    let mechanisms = mechanisms(&capabilities);
    let mut notes = Vec::new();
    notes.push(if mechanisms.is_empty() {
        "no AUTH= mechanisms announced".to_owned()
    } else {
        format!("sign-in mechanisms: {}", mechanisms.join(", "))
    });
    if has(&capabilities, "STARTTLS") {
        notes.push("STARTTLS offered".into());
    }
    if has(&capabilities, "LOGINDISABLED") {
        notes.push("LOGIN disabled (LOGINDISABLED)".into());
    }
    let summary = format!(
        "The server announced {} capabilities; {}.",
        capabilities.len(),
        notes.join("; ")
    );
    Ok((capabilities, summary))
}

pub(super) async fn starttls(
    mut wire: Wire<Transport>,
    offered: bool,
    redact: Redactor<'_>,
) -> StepResult<(TcpStream, u32)> {
    if !offered {
        return Err(StepError::new(
            StepFailure::StartTlsNotOffered,
            "The server does not announce STARTTLS.",
        ));
    }
    accepted(
        wire.command("STARTTLS").await,
        redact,
        "STARTTLS was refused",
    )?;
    let next_tag = wire.next_tag();
    let (transport, leftover) = wire.into_parts();
    if !leftover.is_empty() {
        // Bytes that arrived before encryption but would be read after it: the pattern of
        // a STARTTLS command-injection attack. Never continue on such a connection.
        return Err(StepError::new(
            StepFailure::Protocol {
                detail: "the server sent data right after agreeing to STARTTLS".into(),
            },
            "The server sent data right after agreeing to STARTTLS, before encryption \
             began; Mailkeys stopped there, as this is how STARTTLS injection attacks work.",
        ));
    }
    match transport {
        Transport::Plain(tcp) => Ok((
            (tcp, next_tag),
            "The server agreed to switch to TLS.".into(),
        )),
        Transport::Tls(_) => Err(StepError::new(
            StepFailure::Protocol {
                detail: "STARTTLS on a connection that is already encrypted".into(),
            },
            "STARTTLS was asked for on a connection that is already encrypted.",
        )),
    }
}

/// Signs in with LOGIN, or when LOGIN is disabled with AUTHENTICATE PLAIN, or with
/// AUTHENTICATE LOGIN when PLAIN is not offered. Returns the capabilities the server
/// announced on success, if it did.
pub(super) async fn login(
    wire: &mut Wire<Transport>,
    username: &str,
    password: &SecretString,
    capabilities: &[String],
    encrypted: bool,
    redact: Redactor<'_>,
) -> StepResult<Option<Vec<String>>> {
    let login_disabled = has(capabilities, "LOGINDISABLED");
    let plain = mechanisms(capabilities).iter().any(|m| m == "PLAIN");
    let sasl_login = mechanisms(capabilities).iter().any(|m| m == "LOGIN");
    let user = username.as_bytes();
    let pass = password.expose_secret().as_bytes();
    let (result, how) = if !login_disabled {
        (wire.login(user, pass).await, "LOGIN")
    } else if plain {
        let sasl_ir = has(capabilities, "SASL-IR");
        (
            wire.authenticate_plain(user, pass, sasl_ir).await,
            "AUTHENTICATE PLAIN",
        )
    } else if sasl_login {
        (
            wire.authenticate_login(user, pass).await,
            "AUTHENTICATE LOGIN",
        )
    } else {
        let mechanisms = mechanisms(capabilities);
        let offered = if mechanisms.is_empty() {
            "none".to_owned()
        } else {
            mechanisms.join(", ")
        };
        return Err(StepError::new(
            StepFailure::LoginNotPossible {
                encrypted,
                starttls_offered: has(capabilities, "STARTTLS"),
                mechanisms,
            },
            format!(
                "Not attempted: the server disables LOGIN and offers no password mechanism \
                 (offered: {offered})."
            ),
        ));
    };
    let response = accepted(result, redact, "Signing in was refused")?;
    let over = if encrypted {
        ""
    } else {
        " over an unencrypted connection"
    };
    let capabilities = response
        .capabilities()
        .map(|caps| caps.iter().map(|c| redact.text(c)).collect());
    Ok((capabilities, format!("Signed in with {how}{over}.")))
}

pub(super) async fn select_inbox(
    wire: &mut Wire<Transport>,
    redact: Redactor<'_>,
) -> StepResult<u32> {
    let response = accepted(
        wire.command("SELECT INBOX").await,
        redact,
        "Opening INBOX was refused",
    )?;
    let messages = response.exists().unwrap_or(0);
    let summary = match messages {
        1 => "INBOX holds 1 message.".to_owned(),
        n => format!("INBOX holds {n} messages."),
    };
    Ok((messages, summary))
}

pub(super) async fn logout(wire: &mut Wire<Transport>, redact: Redactor<'_>) -> StepResult<()> {
    match wire.command("LOGOUT").await {
        Ok(_) | Err(WireError::Bye(_)) | Err(WireError::Closed) => {
            Ok(((), "Signed out.".to_owned()))
        }
        Err(e) => Err(wire_failure(e, redact)),
    }
}
