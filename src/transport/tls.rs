//! TLS through rustls: certificates are always verified, against the platform's trust store (or, when
//! asked or when the platform has none to read, the bundled Mozilla roots of webpki-roots) plus,
//! optionally, extra CA certificates from a PEM file. On top of that: public-key
//! pinning (the connection is refused unless a certificate of the verified chain, trust anchor
//! included, has one of the pinned SubjectPublicKeyInfo SHA-256 hashes) and a client certificate for servers that ask for one.

use super::TransportError;
use base64::Engine as _;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::crypto::WebPkiSupportedAlgorithms;
use tokio_rustls::rustls::{self, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_rustls::{client::TlsStream, TlsConnector};

/// The roots server certificates are verified against (before `caFile`'s, which are always added).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TrustStore {
    /// The platform's store: the system bundle on Linux and other Unix systems (`SSL_CERT_FILE` and
    /// `SSL_CERT_DIR` replace it, as for OpenSSL), the keychain on macOS, the system store on Windows,
    /// `/system/etc/security/cacerts` on Android. Where it holds no certificate (iOS, a system with no
    /// bundle), the bundled roots.
    #[default]
    System,
    /// Only the bundled Mozilla roots (webpki-roots), whatever the platform trusts.
    Bundled,
}

impl TrustStore {
    /// `"system"` or `"bundled"`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "system" => Some(Self::System),
            "bundled" => Some(Self::Bundled),
            _ => None,
        }
    }
}

/// What the TLS options ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings<'a> {
    pub trust_store: TrustStore,
    pub ca_file: Option<&'a Path>,
    /// `sha256/<base64>` pins of SubjectPublicKeyInfo hashes (OkHttp's CertificatePinner format).
    pub pins: &'a [String],
    pub client_cert_file: Option<&'a Path>,
    pub client_key_file: Option<&'a Path>,
}

/// A ready TLS client configuration, shared by every connection attempt of one client.
#[derive(Clone)]
pub struct TlsConfig {
    connector: TlsConnector,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsConfig")
    }
}

fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {what} {}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("invalid PEM in {what} {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{what} {} holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

impl TlsConfig {
    /// Builds the configuration, reading every file now so a bad path is an error at once.
    pub fn new(settings: &TlsSettings<'_>) -> Result<Self, String> {
        let mut roots = match settings.trust_store {
            TrustStore::System => system_roots(),
            TrustStore::Bundled => RootCertStore::empty(),
        };
        if roots.is_empty() {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        if let Some(path) = settings.ca_file {
            for cert in read_certs(path, "CA file")? {
                roots.add(cert).map_err(|e| format!("invalid certificate in CA file {}: {e}", path.display()))?;
            }
        }
        let pins = settings.pins.iter().map(|pin| parse_pin(pin)).collect::<Result<Vec<_>, _>>()?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = Arc::new(roots);
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::clone(&roots), Arc::clone(&provider))
            .build()
            .map_err(|e| e.to_string())?;
        let verifier: Arc<dyn ServerCertVerifier> = if pins.is_empty() {
            verifier
        } else {
            let algorithms = provider.signature_verification_algorithms;
            Arc::new(PinningVerifier { inner: verifier, roots, algorithms, pins })
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous() // Only to install a verifier that checks *more* than the default one.
            .with_custom_certificate_verifier(verifier);
        let mut config = match (settings.client_cert_file, settings.client_key_file) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert_file), Some(key_file)) => {
                let certs = read_certs(cert_file, "client certificate file")?;
                let key = PrivateKeyDer::from_pem_file(key_file)
                    .map_err(|e| format!("cannot read client key file {}: {e}", key_file.display()))?;
                builder.with_client_auth_cert(certs, key).map_err(|e| format!("invalid client certificate: {e}"))?
            }
            _ => return Err("clientCertFile and clientKeyFile go together".to_owned()),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self { connector: TlsConnector::from(Arc::new(config)) })
    }

    pub(super) async fn handshake(&self, host: &str, tcp: TcpStream) -> Result<TlsStream<TcpStream>, TransportError> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| TransportError::Tls(format!("invalid server name {host:?}: {e}")))?;
        self.connector.connect(name, tcp).await.map_err(|e| TransportError::Tls(e.to_string()))
    }
}

/// The platform's trust anchors. Read once per process (reading and parsing the system bundle costs
/// milliseconds), again only when `SSL_CERT_FILE` / `SSL_CERT_DIR` changed. Certificates the store holds
/// that webpki cannot use as anchors are skipped, as rustls-platform-verifier does.
fn system_roots() -> RootCertStore {
    type Key = (Option<std::ffi::OsString>, Option<std::ffi::OsString>);
    static CACHE: std::sync::Mutex<Option<(Key, RootCertStore)>> = std::sync::Mutex::new(None);
    let key = (std::env::var_os("SSL_CERT_FILE"), std::env::var_os("SSL_CERT_DIR"));
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((cached_key, roots)) = cache.as_ref() {
        if *cached_key == key {
            return roots.clone();
        }
    }
    #[allow(unused_mut)]
    let mut certs = rustls_native_certs::load_native_certs().certs;
    #[cfg(target_os = "android")]
    if certs.is_empty() {
        let dir = Path::new("/system/etc/security/cacerts");
        certs = rustls_native_certs::load_certs_from_paths(None, Some(dir)).certs;
    }
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(certs);
    *cache = Some((key, roots.clone()));
    roots
}

/// Parses `sha256/<base64 of 32 bytes>`.
fn parse_pin(pin: &str) -> Result<[u8; 32], String> {
    let bad = || format!("invalid pin {pin:?}: expected \"sha256/\" and the base64 SHA-256 of a SubjectPublicKeyInfo");
    let encoded = pin.strip_prefix("sha256/").ok_or_else(bad)?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| bad())?;
    bytes.try_into().map_err(|_| bad())
}

/// The default verification, then the pins, matched against the chain that verification built
/// (end entity, intermediates, trust anchor) — never against what the server merely presents: a
/// server could append any certificate carrying a pinned key to a chain issued to someone else
/// (OkHttp's CVE-2016-2402), and a pinned root is never presented at all.
#[derive(Debug)]
struct PinningVerifier {
    inner: Arc<WebPkiServerVerifier>,
    roots: Arc<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
    pins: Vec<[u8; 32]>,
}

impl PinningVerifier {
    fn is_pinned(&self, spki: &[u8]) -> bool {
        let hash = ring::digest::digest(&ring::digest::SHA256, spki);
        self.pins.iter().any(|pin| pin[..] == *hash.as_ref())
    }

    /// Whether a verified path carries a pinned key, its trust anchor included.
    fn path_is_pinned(&self, path: &webpki::VerifiedPath<'_>) -> bool {
        self.is_pinned(&path.end_entity().subject_public_key_info())
            || path.intermediate_certificates().any(|cert| self.is_pinned(&cert.subject_public_key_info()))
            || self.is_pinned(&webpki::spki_for_anchor(path.anchor()))
    }
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // Everything the default verifier checks (chain, validity, name, usage) first.
        let verified = self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)?;
        // Then build the path again, asking webpki for one that carries a pinned key: path building
        // explores every candidate chain, so a legitimate alternative path through a pinned key is found.
        let refused =
            || rustls::Error::General("certificate pinning failed: no pinned public key in the verified chain".into());
        let cert = webpki::EndEntityCert::try_from(end_entity).map_err(|_| refused())?;
        let check = |path: &webpki::VerifiedPath<'_>| {
            if self.path_is_pinned(path) {
                Ok(())
            } else {
                Err(webpki::Error::UnknownIssuer)
            }
        };
        cert.verify_for_usage(
            self.algorithms.all,
            &self.roots.roots,
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            None,
            Some(&check),
        )
        .map(|_| verified)
        .map_err(|_| refused())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A self-signed certificate made with `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256`,
    // and its pin from `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der |
    // openssl dgst -sha256 -binary | base64`.
    const CERT_PEM: &str = include_str!("testdata/pin-test-cert.pem");
    const PIN: &str = include_str!("testdata/pin-test-cert.pin");

    #[test]
    fn extracts_the_spki_that_openssl_hashes() {
        let cert = CertificateDer::from_pem_slice(CERT_PEM.as_bytes()).unwrap();
        let cert = webpki::EndEntityCert::try_from(&cert).unwrap();
        let hash = ring::digest::digest(&ring::digest::SHA256, &cert.subject_public_key_info());
        assert_eq!(parse_pin(PIN.trim()).unwrap(), hash.as_ref());
    }

    #[test]
    fn rejects_malformed_pins() {
        assert!(parse_pin("sha1/AAAA").is_err());
        assert!(parse_pin("sha256/not base64!").is_err());
        assert!(parse_pin("sha256/AAAA").is_err());
    }
}
