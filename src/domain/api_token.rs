//! What an API token may do, and its name and lifetime as an admin gives them.

use super::{BadText, Name};

/// A token's scope: a read-only token can only read (GET); a read-write one also acts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApiScope {
    ReadOnly,
    ReadWrite,
}

impl ApiScope {
    pub fn parse(input: &str) -> Option<Self> {
        match input {
            "read-only" => Some(Self::ReadOnly),
            "read-write" => Some(Self::ReadWrite),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "read-only",
            Self::ReadWrite => "read-write",
        }
    }

    pub fn of(read_write: bool) -> Self {
        if read_write {
            Self::ReadWrite
        } else {
            Self::ReadOnly
        }
    }
}

/// A token's name: a [`Name`] of 1 to 100 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiTokenName(Name);

/// Why a name or a lifetime was refused, in words for the form.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BadTokenInput {
    #[error("Give the token a name (at most 100 characters), e.g. the script or system using it.")]
    Name,
    #[error("The lifetime is a number of days from 1 to 3650, or nothing for no expiry.")]
    Days,
    #[error(transparent)]
    Text(#[from] BadText),
}

impl ApiTokenName {
    pub fn parse(input: &str) -> Result<Self, BadTokenInput> {
        let name = Name::parse(input, "The token's name")?;
        let len = name.as_str().chars().count();
        if len == 0 || len > 100 {
            return Err(BadTokenInput::Name);
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// The days a token works for: none (no expiry) or 1 to 3650, from the text typed.
pub fn parse_days(input: &str) -> Result<Option<u32>, BadTokenInput> {
    let input = input.trim();
    if input.is_empty() || input == "never" {
        return Ok(None);
    }
    match input.parse::<u32>() {
        Ok(days @ 1..=3650) => Ok(Some(days)),
        _ => Err(BadTokenInput::Days),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_scopes_and_days_parse_as_typed() {
        assert_eq!(
            ApiTokenName::parse("  Ticketing ").unwrap().as_str(),
            "Ticketing"
        );
        assert_eq!(ApiTokenName::parse(" "), Err(BadTokenInput::Name));
        assert!(ApiTokenName::parse(&"x".repeat(101)).is_err());
        assert_eq!(ApiScope::parse("read-write"), Some(ApiScope::ReadWrite));
        assert_eq!(ApiScope::parse("admin"), None);
        assert_eq!(parse_days(""), Ok(None));
        assert_eq!(parse_days("30"), Ok(Some(30)));
        assert_eq!(parse_days("0"), Err(BadTokenInput::Days));
        assert_eq!(parse_days("-1"), Err(BadTokenInput::Days));
    }
}
