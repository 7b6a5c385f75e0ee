//! The one certificate factory of the tests, with rcgen: a test CA, server certificates it
//! issued or self-signed ones, for any names and validity, as a rustls server configuration
//! (for a fake server) or as PEM files (for Dovecot).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
pub use rustls::ServerConfig;
use time::OffsetDateTime;

/// When a certificate is valid.
#[derive(Clone, Copy, Debug)]
pub struct Validity {
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// From a day ago to two days ahead: valid now, and soon not.
    pub fn current() -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            not_before: now - time::Duration::days(1),
            not_after: now + time::Duration::days(2),
        }
    }

    /// From 1 January of `from` to 1 January of `to`.
    pub fn years(from: i32, to: i32) -> Self {
        Self {
            not_before: rcgen::date_time_ymd(from, 1, 1),
            not_after: rcgen::date_time_ymd(to, 1, 1),
        }
    }
}

/// A server certificate and its key.
pub struct Issued {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Issued {
    pub fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// A rustls server configuration presenting this certificate.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()));
        let config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_no_client_auth()
                .with_single_cert(vec![self.der()], key)
                .expect("server config");
        Arc::new(config)
    }

    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.server_config())
    }

    /// Writes `cert.pem` and `key.pem` (mode 0600) into `dir`, the names Dovecot's test
    /// configuration reads.
    pub fn write_pem(&self, dir: &Path) {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::write(dir.join("cert.pem"), self.cert.pem()).expect("writes cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&key, self.key.serialize_pem()).expect("writes key.pem");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
            .expect("key.pem is private");
    }
}

/// A test certificate authority (valid 2019 to 2099), its PEM also in a temporary file for a
/// `ca_file` setting.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    pub pem_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

impl TestCa {
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Mailkeys Test CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let validity = Validity::years(2019, 2099);
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        let key = KeyPair::generate().expect("key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("CA certificate");
        let dir = tempfile::tempdir().expect("tempdir");
        let pem_file = dir.path().join("ca.pem");
        std::fs::write(&pem_file, issuer.pem()).expect("writes the CA");
        Self {
            issuer,
            pem_file,
            _dir: dir,
        }
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate this CA issued for `names` (the first is also the subject's CN).
    pub fn issue(&self, names: &[&str], validity: Validity) -> Issued {
        let params = leaf_params(names, validity);
        let key = KeyPair::generate().expect("key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        Issued { cert, key }
    }

    /// A server configuration with a certificate this CA issued for `names`, valid between
    /// 1 January of the two years given.
    pub fn server(&self, names: &[&str], from_year: i32, to_year: i32) -> Arc<ServerConfig> {
        self.issue(names, Validity::years(from_year, to_year))
            .server_config()
    }
}

/// A self-signed server certificate for `names`.
pub fn self_signed(names: &[&str], validity: Validity) -> Issued {
    let params = leaf_params(names, validity);
    let key = KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("certificate");
    Issued { cert, key }
}

/// A server configuration with a self-signed certificate for `names`, valid now.
pub fn self_signed_server(names: &[&str]) -> Arc<ServerConfig> {
    self_signed(names, Validity::current()).server_config()
}

fn leaf_params(names: &[&str], validity: Validity) -> CertificateParams {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names.clone()).expect("params");
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().cloned().unwrap_or_default(),
    );
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = validity.not_before;
    params.not_after = validity.not_after;
    params
}
