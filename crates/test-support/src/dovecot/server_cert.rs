//! The certificate files of a test instance (`ca.pem`, `cert.pem`, `key.pem`), for each
//! `CertChoice`, from the one certificate factory.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::CertChoice;
use crate::certs::{self_signed, TestCa, Validity};

/// Writes the CA and the server certificate `choice` asks for into `dir`; returns the CA
/// file's path (the CA did not sign a self-signed certificate).
pub(super) fn write_certificates(dir: &Path, choice: CertChoice, listen: Ipv4Addr) -> PathBuf {
    let ca = TestCa::new();
    let listen = listen.to_string();
    let mut names = vec!["localhost", "127.0.0.1"];
    if listen != "127.0.0.1" {
        names.push(&listen);
    }
    let issued = match choice {
        CertChoice::Default => ca.issue(&names, Validity::current()),
        CertChoice::SelfSigned => self_signed(&names, Validity::current()),
        CertChoice::Expired => ca.issue(&names, Validity::years(2020, 2021)),
        CertChoice::WrongHost => ca.issue(&["mail.example.net"], Validity::current()),
    };
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).expect("writes ca.pem");
    issued.write_pem(dir);
    ca_file
}
