//! Certificates for the test instances: a CA and a server certificate it signed (openssl),
//! or one of the broken kinds of `CertChoice` (rcgen).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::util::set_mode;
use super::CertChoice;

/// The names the server certificate is made out for.
fn server_names(listen: Ipv4Addr) -> Vec<String> {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    if listen != Ipv4Addr::LOCALHOST {
        names.push(listen.to_string());
    }
    names
}

/// A CA and a server certificate it signed (CN localhost; SAN localhost, 127.0.0.1 and the
/// listen address), with `openssl`. Returns the CA certificate's path.
pub(super) fn make_certificates(dir: &Path, listen: Ipv4Addr) -> PathBuf {
    let san: Vec<String> = server_names(listen)
        .iter()
        .map(|n| match n.parse::<std::net::IpAddr>() {
            Ok(_) => format!("IP:{n}"),
            Err(_) => format!("DNS:{n}"),
        })
        .collect();
    std::fs::write(
        dir.join("ca.cnf"),
        "[req]\ndistinguished_name = dn\nprompt = no\nx509_extensions = v3\n[dn]\nCN = Mailkeys test CA\n\
         [v3]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n\
         subjectKeyIdentifier = hash\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("leaf.cnf"),
        format!(
            "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n\
             extendedKeyUsage = serverAuth\nsubjectAltName = {}\n\
             authorityKeyIdentifier = keyid\nsubjectKeyIdentifier = hash\n",
            san.join(", ")
        ),
    )
    .unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        dir,
        &[
            &["req", "-x509", "-config", "ca.cnf"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2"],
        ]
        .concat(),
    );
    openssl(
        dir,
        &[
            &["req", "-new"][..],
            &ec,
            &[
                "-keyout",
                "key.pem",
                "-out",
                "leaf.csr",
                "-subj",
                "/CN=localhost",
            ],
        ]
        .concat(),
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "1",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.cnf",
        ],
    );
    dir.join("ca.pem")
}

/// The certificates of the other `CertChoice`s, made with rcgen: a CA (valid 2019 to 2099,
/// written to `ca.pem`, returned) and the server's `cert.pem` and `key.pem`.
pub(super) fn make_special_certificates(
    dir: &Path,
    choice: CertChoice,
    listen: Ipv4Addr,
) -> PathBuf {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, "Mailkeys test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = rcgen::date_time_ymd(2019, 1, 1);
    ca.not_after = rcgen::date_time_ymd(2099, 1, 1);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();

    let now = time::OffsetDateTime::now_utc();
    let (names, not_before, not_after) = match choice {
        CertChoice::Default => unreachable!("the default certificate is made with openssl"),
        CertChoice::SelfSigned => (
            server_names(listen),
            now - time::Duration::days(1),
            now + time::Duration::days(2),
        ),
        CertChoice::Expired => (
            server_names(listen),
            rcgen::date_time_ymd(2020, 1, 1),
            rcgen::date_time_ymd(2021, 1, 1),
        ),
        CertChoice::WrongHost => (
            vec!["mail.example.net".to_owned()],
            now - time::Duration::days(1),
            now + time::Duration::days(2),
        ),
    };
    let mut leaf = CertificateParams::new(names.clone()).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, names[0].as_str());
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = not_before;
    leaf.not_after = not_after;
    let key = KeyPair::generate().unwrap();
    let cert = if choice == CertChoice::SelfSigned {
        leaf.self_signed(&key).unwrap()
    } else {
        leaf.signed_by(&key, &ca).unwrap()
    };
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    set_mode(&dir.join("key.pem"), 0o600);
    dir.join("ca.pem")
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("openssl is required to make the test certificate: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
