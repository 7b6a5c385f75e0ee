//! The parts with I/O that the domain types leave out: password hashing on its own threads
//! (Argon2id), randomness from the operating system, and the Prometheus metrics every part
//! records into.

pub mod attempt_keys;
pub mod hash_pool;
pub mod hashing;
pub mod mail;
pub mod metrics;
pub mod random;
pub mod sealing;
pub mod totp;
