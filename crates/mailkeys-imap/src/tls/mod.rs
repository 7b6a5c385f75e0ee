//! TLS for the check: a handshake that records the server's certificate chain instead of
//! aborting on a bad one, and our own verification of that chain afterwards, so a bad
//! certificate can be *described* (subject, names, issuer, dates) and not only refused.
//!
//! The handshake itself still proves that the server holds the certificate's key (the
//! handshake signature is checked with rustls' own functions). The chain is verified with
//! rustls' [`WebPkiServerVerifier`] against the configured `ca_file` or the system store,
//! right after the handshake and before a single IMAP byte is read or written; a connection
//! whose certificate failed is dropped, so no password is ever sent over it.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use x509_cert::der::Decode;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;

use super::report::{CertProblem, CertificateInfo};

mod analysis;
#[cfg(test)]
mod tests;

pub(crate) use analysis::analyse;

/// How many of the first bytes the server sends are kept, to tell what it speaks.
const SNIFF_LEN: usize = 64;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system's trusted authorities, read once (no network: the OS store only).
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut roots = RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            if !found.errors.is_empty() {
                tracing::warn!(errors = ?found.errors, "some system certificates could not be read");
            }
            roots.add_parsable_certificates(found.certs);
            Arc::new(roots)
        })
        .clone()
}

fn roots_from_file(path: &Path) -> Result<Arc<RootCertStore>, String> {
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read ca_file {shown}: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("ca_file {shown} is not a PEM certificate file: {e}"))?;
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!("ca_file {shown} holds no usable certificate"));
    }
    Ok(Arc::new(roots))
}

/// Accepts any chain during the handshake but keeps it for [`analyse`]; checks handshake
/// signatures for real.
struct Recorder {
    algorithms: WebPkiSupportedAlgorithms,
    chain: Mutex<Vec<CertificateDer<'static>>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recorder")
    }
}

impl Recorder {
    fn take_chain(&self) -> Vec<CertificateDer<'static>> {
        std::mem::take(&mut *self.chain.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = Vec::with_capacity(1 + intermediates.len());
        chain.push(end_entity.clone().into_owned());
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        *self.chain.lock().unwrap_or_else(|p| p.into_inner()) = chain;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Everything one TLS connection of a check needs.
pub(crate) struct TlsSetup {
    provider: Arc<CryptoProvider>,
    roots: Arc<RootCertStore>,
    recorder: Arc<Recorder>,
    connector: TlsConnector,
    name: ServerName<'static>,
}

impl TlsSetup {
    /// `Err` holds a plain sentence about the configuration (bad `ca_file`, bad host name).
    pub fn new(host: &str, ca_file: Option<&Path>) -> Result<Self, String> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|_| format!("{host:?} is not a valid host name for TLS"))?;
        let roots = match ca_file {
            Some(path) => roots_from_file(path)?,
            None => system_roots(),
        };
        let provider = provider();
        let recorder = Arc::new(Recorder {
            algorithms: provider.signature_verification_algorithms,
            chain: Mutex::new(Vec::new()),
        });
        let mut config = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS cannot be set up: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(recorder.clone())
            .with_no_client_auth();
        // Every check must see the full handshake and the certificate: no resumption.
        config.resumption = rustls::client::Resumption::disabled();
        Ok(Self {
            provider,
            roots,
            recorder,
            connector: TlsConnector::from(Arc::new(config)),
            name,
        })
    }

    pub async fn handshake(&self, tcp: TcpStream) -> Result<Handshaken, HandshakeFailed> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sniff = Sniff {
            inner: tcp,
            seen: seen.clone(),
        };
        match self
            .connector
            .connect(self.name.clone(), sniff)
            .into_fallible()
            .await
        {
            Ok(stream) => {
                let (_, conn) = stream.get_ref();
                let protocol = match conn.protocol_version() {
                    Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_owned(),
                    Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_owned(),
                    Some(other) => format!("{other:?}"),
                    None => "unknown".to_owned(),
                };
                let cipher_suite = conn
                    .negotiated_cipher_suite()
                    .map(|s| format!("{:?}", s.suite()))
                    .unwrap_or_default();
                Ok(Handshaken {
                    stream: Box::new(stream),
                    protocol,
                    cipher_suite,
                    chain: self.recorder.take_chain(),
                })
            }
            Err((err, _)) => {
                let first_bytes = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
                Err(HandshakeFailed {
                    detail: describe_handshake_error(&err),
                    first_bytes,
                })
            }
        }
    }

    /// Verifies the recorded chain for the host, now.
    pub fn analyse(
        &self,
        chain: &[CertificateDer<'static>],
    ) -> (Option<CertificateInfo>, Vec<CertProblem>) {
        analyse(
            &self.roots,
            &self.provider,
            chain,
            &self.name,
            UnixTime::now(),
        )
    }
}

pub(crate) struct Handshaken {
    pub stream: Box<TlsStream<Sniff<TcpStream>>>,
    pub protocol: String,
    pub cipher_suite: String,
    pub chain: Vec<CertificateDer<'static>>,
}

pub(crate) struct HandshakeFailed {
    pub detail: String,
    /// The first bytes the server sent, to tell a plaintext IMAP port from a broken TLS one.
    pub first_bytes: Vec<u8>,
}

/// The detail of a handshake the server cut off.
pub(crate) const CLOSED_DURING_HANDSHAKE: &str =
    "the server closed the connection during the handshake";

fn describe_handshake_error(err: &io::Error) -> String {
    let rustls_error = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls::Error::AlertReceived(alert)) => {
            format!("the server refused the handshake with the alert {alert:?}")
        }
        Some(rustls::Error::InvalidMessage(_)) => {
            "the server's answer is not a TLS message".to_owned()
        }
        Some(rustls::Error::PeerIncompatible(why)) => {
            format!("the server has no TLS version or cipher in common with Mailkeys ({why:?})")
        }
        Some(other) => other.to_string(),
        None => match err.kind() {
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => {
                CLOSED_DURING_HANDSHAKE.to_owned()
            }
            _ => err.to_string(),
        },
    }
}

/// A stream that remembers the first bytes it reads.
pub(crate) struct Sniff<S> {
    inner: S,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Sniff<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &result {
            let mut seen = this.seen.lock().unwrap_or_else(|p| p.into_inner());
            if seen.len() < SNIFF_LEN {
                let new = &buf.filled()[before..];
                let room = SNIFF_LEN - seen.len();
                seen.extend_from_slice(&new[..new.len().min(room)]);
            }
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Sniff<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Does this look like the start of a TLS record (handshake or alert)?
pub(crate) fn looks_like_tls(bytes: &[u8]) -> bool {
    matches!(bytes, [0x14..=0x17, 0x03, 0x00..=0x04, ..] | [0x15 | 0x16])
}
