// Shared, word for word, by the build script (`include!`) and by `domain::breached_passwords`:
// the build script fingerprints the list with it and the service fingerprints a typed
// password with it, so the two always agree. No `//!` or `use` here, for that reason.

/// A 32-bit fingerprint of one password: the high half of SipHash-2-4 with zero keys
/// (`std::hash::SipHasher`, deprecated only because a random state is usually wanted; its
/// algorithm is frozen, which is what a list made at build time needs).
pub fn fingerprint(entry: &[u8]) -> u32 {
    #[allow(deprecated)]
    let mut hasher = std::hash::SipHasher::new();
    std::hash::Hasher::write(&mut hasher, entry);
    (std::hash::Hasher::finish(&hasher) >> 32) as u32
}
