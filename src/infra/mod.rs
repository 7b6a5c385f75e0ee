//! The parts with I/O that the domain types leave out: password hashing on its own threads
//! (Argon2id) and randomness from the operating system.

pub mod attempt_keys;
pub mod hash_pool;
pub mod hashing;
pub mod random;
