//! The one input normaliser: every text field a form or the JSON API takes goes through
//! here before anything else reads it (see the README's "Input" rules).
//!
//! - [`Text`]: one line of text, NFC-normalised, with no control character (category Cc:
//!   NUL, escape, tab, line feed …) and no line or paragraph separator (Zl, Zp). A NUL
//!   byte would make PostgreSQL fail the query; the others break logs and layouts.
//! - [`Text::lines`]: the same, but tabs and line breaks are kept (a list typed one item
//!   per line).
//! - [`Name`]: what people are shown as a name: a [`Text`], trimmed, that also has no
//!   invisible or format character (category Cf: zero-width spaces and joiners, soft
//!   hyphens, direction marks, byte-order marks …) and none of the Hangul fillers that
//!   render as blank (U+115F, U+1160, U+3164, U+FFA0). "Ph\u{200B}one" would otherwise look
//!   exactly like "Phone".
//!
//! Each refusal names the field, so the form can say what to fix.

use std::fmt;

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Why a field's text was refused; the message starts with the field's label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadText {
    #[error("{0} cannot contain control characters (such as a NUL byte or a line break).")]
    Control(&'static str),
    #[error(
        "{0} cannot contain invisible or formatting characters (such as a zero-width space, a soft hyphen, a direction mark or a blank Hangul filler)."
    )]
    Invisible(&'static str),
}

impl BadText {
    /// The same refusal, for another field's label.
    pub fn for_field(self, field: &'static str) -> Self {
        match self {
            Self::Control(_) => Self::Control(field),
            Self::Invisible(_) => Self::Invisible(field),
        }
    }
}

/// Hangul fillers: letters by category (Lo), blank on screen.
const HANGUL_FILLERS: [char; 4] = ['\u{115F}', '\u{1160}', '\u{3164}', '\u{FFA0}'];

fn is_control(c: char, keep_line_breaks: bool) -> bool {
    if keep_line_breaks && matches!(c, '\t' | '\n' | '\r') {
        return false;
    }
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// Invisible in a name: format characters (Cf) and the Hangul fillers.
pub fn is_invisible(c: char) -> bool {
    c.general_category() == GeneralCategory::Format || HANGUL_FILLERS.contains(&c)
}

/// Text as typed, NFC-normalised, with no control character.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Text(String);

impl Text {
    /// One line: no control characters at all.
    pub fn parse(input: &str, field: &'static str) -> Result<Self, BadText> {
        Self::normalise(input, field, false)
    }

    /// Several lines: tabs and line breaks are kept, every other control is refused.
    pub fn lines(input: &str, field: &'static str) -> Result<Self, BadText> {
        Self::normalise(input, field, true)
    }

    fn normalise(
        input: &str,
        field: &'static str,
        keep_line_breaks: bool,
    ) -> Result<Self, BadText> {
        if input.chars().any(|c| is_control(c, keep_line_breaks)) {
            return Err(BadText::Control(field));
        }
        Ok(Self(input.nfc().collect()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Text({:?})", self.0)
    }
}

/// A name people are shown: one line of [`Text`], trimmed, with nothing invisible in it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Name(String);

impl Name {
    pub fn parse(input: &str, field: &'static str) -> Result<Self, BadText> {
        let text = Text::parse(input, field)?;
        let trimmed = text.as_str().trim();
        if trimmed.chars().any(is_invisible) {
            return Err(BadText::Invisible(field));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELD: &str = "The field";

    #[test]
    fn plain_text_is_kept_as_typed() {
        let typed = "  Bob's 100% \"iPhone\" 📱 ";
        assert_eq!(Text::parse(typed, FIELD).unwrap().as_str(), typed);
    }

    #[test]
    fn text_is_nfc_normalised() {
        // "é" typed as "e" and a combining acute accent becomes the one code point U+00E9.
        assert_eq!(
            Text::parse("Caf\u{65}\u{301}", FIELD).unwrap().as_str(),
            "Caf\u{e9}"
        );
        assert_eq!(
            Name::parse("Caf\u{65}\u{301}", FIELD).unwrap().as_str(),
            "Caf\u{e9}"
        );
    }

    #[test]
    fn nul_and_every_other_control_are_refused_with_the_fields_label() {
        for bad in [
            "a\0b",
            "\0",
            "a\u{1b}[31m",
            "a\tb",
            "a\nb",
            "a\rb",
            "a\u{7f}",
            "a\u{85}b",
        ] {
            assert_eq!(
                Text::parse(bad, "The reason"),
                Err(BadText::Control("The reason")),
                "{bad:?}"
            );
        }
        assert_eq!(
            BadText::Control("The reason").to_string(),
            "The reason cannot contain control characters (such as a NUL byte or a line break)."
        );
    }

    #[test]
    fn line_and_paragraph_separators_are_controls_in_one_line() {
        for bad in ["a\u{2028}b", "a\u{2029}b"] {
            assert_eq!(Text::parse(bad, FIELD), Err(BadText::Control(FIELD)));
        }
    }

    #[test]
    fn several_lines_keep_tabs_and_line_breaks_but_not_nul() {
        assert_eq!(Text::lines("a\r\n\tb", FIELD).unwrap().as_str(), "a\r\n\tb");
        assert_eq!(Text::lines("a\nb\0", FIELD), Err(BadText::Control(FIELD)));
        assert_eq!(
            Text::lines("a\u{2028}b", FIELD),
            Err(BadText::Control(FIELD))
        );
    }

    #[test]
    fn invisible_and_format_characters_are_refused_in_names() {
        for bad in [
            "Ph\u{200B}one",   // zero-width space
            "Ph\u{200D}one",   // zero-width joiner
            "Ph\u{2060}one",   // word joiner
            "\u{FEFF}Phone",   // byte-order mark
            "Ph\u{AD}one",     // soft hyphen
            "gpj.\u{202E}exe", // right-to-left override
            "Phone\u{2066}",   // left-to-right isolate
            "Ph\u{115F}one",
            "Ph\u{1160}one",
            "Ph\u{3164}one",
            "Ph\u{FFA0}one",
        ] {
            assert_eq!(
                Name::parse(bad, "A name"),
                Err(BadText::Invisible("A name")),
                "{bad:?}"
            );
            // The same characters are not controls: plain text keeps them.
            assert!(Text::parse(bad, FIELD).is_ok(), "{bad:?}");
        }
        assert_eq!(
            Name::parse("Ph\u{2028}one", FIELD),
            Err(BadText::Control(FIELD))
        );
    }

    #[test]
    fn names_are_trimmed_and_keep_visible_unicode() {
        assert_eq!(
            Name::parse("  Téléphone 📱 ", FIELD).unwrap().as_str(),
            "Téléphone 📱"
        );
        assert_eq!(Name::parse("한국어", FIELD).unwrap().as_str(), "한국어");
    }
}
