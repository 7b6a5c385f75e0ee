//! Turns the breached-password list (`data/breached-passwords.txt.gz`) into the sorted
//! 32-bit fingerprints the service searches (`domain::breached_passwords`), written to
//! `OUT_DIR` and compiled in. The text list itself stays out of the binary and out of
//! memory: 5.6 MiB of fingerprints, read from the binary's pages only where a search
//! touches them.

use std::io::BufRead;

include!("src/domain/breach_fingerprint.rs");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let list = "data/breached-passwords.txt.gz";
    println!("cargo:rerun-if-changed={list}");
    println!("cargo:rerun-if-changed=src/domain/breach_fingerprint.rs");
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(std::fs::File::open(list)?));
    let mut all = Vec::with_capacity(1_500_000);
    for line in reader.split(b'\n') {
        let line = line?;
        if !line.is_empty() {
            all.push(fingerprint(&line));
        }
    }
    all.sort_unstable();
    all.dedup();
    let bytes: Vec<u8> = all.iter().flat_map(|f| f.to_le_bytes()).collect();
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("breached-fingerprints.bin");
    std::fs::write(out, bytes)?;
    Ok(())
}
