//! Every form in which the password goes on the wire, and server text made safe to show.

use super::*;

pub(super) struct Needles(pub(super) Vec<Zeroizing<String>>);

impl Needles {
    pub(super) fn new(username: &str, password: &SecretString) -> Self {
        use base64::Engine as _;
        let raw = password.expose_secret();
        let mut needles = Vec::new();
        if !raw.is_empty() {
            needles.push(Zeroizing::new(raw.to_owned()));
            let escaped = Zeroizing::new(raw.replace('\\', "\\\\").replace('"', "\\\""));
            if escaped.as_str() != raw {
                needles.push(escaped);
            }
            // As AUTHENTICATE LOGIN sends it.
            needles.push(Zeroizing::new(
                base64::engine::general_purpose::STANDARD.encode(raw.as_bytes()),
            ));
            let plain = Zeroizing::new(format!("\0{username}\0{raw}"));
            needles.push(Zeroizing::new(
                base64::engine::general_purpose::STANDARD.encode(plain.as_bytes()),
            ));
        }
        Self(needles)
    }
}

/// Server text made fit to show: the password taken out wherever it appears (a broken
/// server might echo a command), control characters escaped, length bounded.
#[derive(Clone, Copy)]
pub(crate) struct Redactor<'a> {
    pub(super) needles: &'a Needles,
}

pub(super) const SHOWN_TEXT_MAX: usize = 300;
pub(super) const HIDDEN: &str = "[password hidden]";

impl Redactor<'_> {
    pub fn text(&self, raw: &str) -> String {
        let mut text = raw.to_owned();
        for needle in &self.needles.0 {
            if text.contains(needle.as_str()) {
                text = text.replace(needle.as_str(), HIDDEN);
            }
        }
        if text.chars().any(char::is_control) {
            text = text
                .chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect();
        }
        if text.chars().count() > SHOWN_TEXT_MAX {
            text = text.chars().take(SHOWN_TEXT_MAX).collect::<String>() + "…";
        }
        text
    }

    /// Raw bytes (a binary greeting) as printable text with `\xNN` escapes.
    pub fn bytes(&self, raw: &[u8]) -> String {
        let shown: String = raw
            .iter()
            .take(48)
            .map(|&b| {
                if (0x20..0x7f).contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("\\x{b:02x}")
                }
            })
            .collect();
        self.text(&shown)
    }
}
