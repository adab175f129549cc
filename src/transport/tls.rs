//! TLS through rustls: certificates are always verified, against the bundled Mozilla roots
//! (webpki-roots) plus, optionally, extra CA certificates from a PEM file. On top of that: public-key
//! pinning (the connection is refused unless a certificate the server presents has one of the pinned
//! SubjectPublicKeyInfo SHA-256 hashes) and a client certificate for servers that ask for one.

use super::TransportError;
use base64::Engine as _;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::{self, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_rustls::{client::TlsStream, TlsConnector};

/// What the TLS options ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings<'a> {
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
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = settings.ca_file {
            for cert in read_certs(path, "CA file")? {
                roots.add(cert).map_err(|e| format!("invalid certificate in CA file {}: {e}", path.display()))?;
            }
        }
        let pins = settings.pins.iter().map(|pin| parse_pin(pin)).collect::<Result<Vec<_>, _>>()?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .build()
            .map_err(|e| e.to_string())?;
        let verifier: Arc<dyn ServerCertVerifier> =
            if pins.is_empty() { verifier } else { Arc::new(PinningVerifier { inner: verifier, pins }) };
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

/// Parses `sha256/<base64 of 32 bytes>`.
fn parse_pin(pin: &str) -> Result<[u8; 32], String> {
    let bad = || format!("invalid pin {pin:?}: expected \"sha256/\" and the base64 SHA-256 of a SubjectPublicKeyInfo");
    let encoded = pin.strip_prefix("sha256/").ok_or_else(bad)?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| bad())?;
    bytes.try_into().map_err(|_| bad())
}

/// The default verification, then the pins: one certificate the server presents (its own or an
/// intermediate) must carry a pinned public key.
#[derive(Debug)]
struct PinningVerifier {
    inner: Arc<WebPkiServerVerifier>,
    pins: Vec<[u8; 32]>,
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
        let verified = self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)?;
        let pinned = std::iter::once(end_entity).chain(intermediates).any(|cert| {
            subject_public_key_info(cert)
                .map(|spki| ring::digest::digest(&ring::digest::SHA256, spki))
                .is_some_and(|hash| self.pins.iter().any(|pin| pin[..] == *hash.as_ref()))
        });
        if pinned {
            Ok(verified)
        } else {
            Err(rustls::Error::General("certificate pinning failed: no pinned public key in the server's chain".into()))
        }
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

/// One DER element.
struct DerElement<'a> {
    tag: u8,
    /// Header and contents.
    whole: &'a [u8],
    contents: &'a [u8],
    /// What follows the element.
    rest: &'a [u8],
}

fn der_element(input: &[u8]) -> Option<DerElement<'_>> {
    let (&tag, after_tag) = input.split_first()?;
    let (&first, after_length) = after_tag.split_first()?;
    let (length, body) = if first < 0x80 {
        (usize::from(first), after_length)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || after_length.len() < count {
            return None;
        }
        let length = after_length[..count].iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (length, &after_length[count..])
    };
    if body.len() < length {
        return None;
    }
    let header = input.len() - body.len();
    Some(DerElement { tag, whole: &input[..header + length], contents: &body[..length], rest: &body[length..] })
}

const DER_SEQUENCE: u8 = 0x30;

/// The DER SubjectPublicKeyInfo of an X.509 certificate: the 7th field of tbsCertificate when the
/// version is present ([0] version, serial, signature, issuer, validity, subject, SPKI), else the 6th.
pub(crate) fn subject_public_key_info(cert: &[u8]) -> Option<&[u8]> {
    let certificate = der_element(cert).filter(|e| e.tag == DER_SEQUENCE)?;
    let tbs = der_element(certificate.contents).filter(|e| e.tag == DER_SEQUENCE)?;
    let mut fields = tbs.contents;
    let mut index = 0;
    loop {
        let element = der_element(fields)?;
        fields = element.rest;
        if index == 0 && element.tag == 0xa0 {
            continue;
        }
        if index == 5 {
            return (element.tag == DER_SEQUENCE).then_some(element.whole);
        }
        index += 1;
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
        let spki = subject_public_key_info(&cert).unwrap();
        let hash = ring::digest::digest(&ring::digest::SHA256, spki);
        assert_eq!(parse_pin(PIN.trim()).unwrap(), hash.as_ref());
    }

    #[test]
    fn rejects_malformed_input() {
        assert_eq!(subject_public_key_info(&[]), None);
        assert_eq!(subject_public_key_info(&[0x30, 0x82, 0xff]), None);
        assert_eq!(subject_public_key_info(&[0x30, 0x03, 0x02, 0x01, 0x00]), None);
        let cert = CertificateDer::from_pem_slice(CERT_PEM.as_bytes()).unwrap();
        for cut in 0..cert.len() {
            let _ = subject_public_key_info(&cert[..cut]);
        }
        assert!(parse_pin("sha1/AAAA").is_err());
        assert!(parse_pin("sha256/not base64!").is_err());
        assert!(parse_pin("sha256/AAAA").is_err());
    }
}
