//! A path on this site to send the browser back to after signing in, taken from a query
//! string and so from anyone: only a plain local path passes, never another site's address
//! (no open redirect).

/// Longer is not a page of this site.
const MAX_LEN: usize = 1024;

/// A local path (with its query and fragment), e.g. `/account` or `/?name=Phone#create`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalPath(String);

impl LocalPath {
    /// The path, if `text` is one this site may send the browser to after sign-in.
    pub fn parse(text: &str) -> Option<Self> {
        let plain = text.starts_with('/')
            && text.len() <= MAX_LEN
            // "//host" and "/\host" are other sites to a browser.
            && !text.starts_with("//")
            && !text.contains('\\')
            && !text.chars().any(char::is_control)
            && !text.chars().any(char::is_whitespace);
        // Pages that sign in or out, and API endpoints, are no place to return to.
        let page = !["/sign-in", "/sign-out", "/setup/", "/api/"]
            .iter()
            .any(|prefix| text.starts_with(prefix));
        if !(plain && page) {
            return None;
        }
        // What a browser would make of it relative to this site must stay on this site.
        let base = url::Url::parse("http://mailkeys.invalid/").ok()?;
        let joined = base.join(text).ok()?;
        (joined.origin() == base.origin()).then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_pass() {
        for ok in [
            "/",
            "/account",
            "/?name=Phone&scope=imap#create",
            "/admin/users/3",
        ] {
            assert_eq!(
                LocalPath::parse(ok).map(|p| p.0),
                Some(ok.to_owned()),
                "{ok}"
            );
        }
    }

    #[test]
    fn other_sites_and_odd_paths_are_refused() {
        for bad in [
            "",
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "/a\nb",
            "/a b",
            "/sign-in",
            "/sign-out",
            "/setup/token",
            "/api/me",
            "relative",
        ] {
            assert_eq!(LocalPath::parse(bad), None, "{bad:?}");
        }
        assert_eq!(LocalPath::parse(&format!("/{}", "a".repeat(2000))), None);
    }
}
