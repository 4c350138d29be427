//! TLS client configuration from PEM files, for national transports that speak TLS (MQTT).
//!
//! [`ClientTlsConfig`] is the `tls` table of an endpoint: the trust anchors for the server
//! (`ca_file`, required), an optional client certificate and key for mutual TLS (`cert_file`
//! and `key_file`, both or neither) and an optional `server_name` to verify the server's
//! certificate against instead of the host name. [`ClientTlsConfig::client_config`] turns it
//! into a rustls [`ClientConfig`]; the same function is run by [`ClientTlsConfig::validate`] at
//! startup, so a file that is unreadable, not PEM, holds no certificate or a key that does
//! not belong to the certificate is reported with its key path before anything connects.
//!
//! Policy: the server is always verified (chain to one of the `ca_file` anchors, validity,
//! name). There is no switch to skip verification and no plaintext fallback: a transport with
//! a `tls` table connects over TLS or not at all. Only the trust anchors in `ca_file` are
//! used, never the system store. TLS 1.3 only (the rustls `tls12` feature is not enabled in
//! this workspace).
//!
//! Crypto backend: rustls with *ring* ([`rustls::crypto::ring`]), the provider async-nats
//! already uses for the NATS connection; the provider is passed explicitly, so the process-wide
//! default is neither needed nor changed.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, ring};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme,
};
use serde::Deserialize;

use crate::config::Invalid;

/// The `tls` table of a client endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientTlsConfig {
    /// Trust anchor(s) for the server: one or more PEM certificates (a CA bundle).
    pub ca_file: PathBuf,
    /// Client certificate chain (PEM, leaf first) for mutual TLS; needs `key_file`.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1) of `cert_file`; needs `cert_file`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Name the server certificate must carry (DNS name or IP address); default: the host
    /// the transport connects to. Only verification uses it: the SNI sent is still the host
    /// (rumqttc derives it from the address), so a broker that picks its certificate by SNI
    /// needs `host` to be that name.
    #[serde(default)]
    pub server_name: Option<String>,
}

/// Which key of the `tls` table (or of the endpoint) a [`TlsError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsKey {
    /// `tls.ca_file`.
    CaFile,
    /// `tls.cert_file`.
    CertFile,
    /// `tls.key_file`.
    KeyFile,
    /// `tls.server_name`.
    ServerName,
    /// The endpoint's `host` (used as the server name when `tls.server_name` is not set).
    Host,
    /// The `tls` table as a whole.
    Table,
}

impl TlsKey {
    /// The key's path relative to the endpoint (`tls.ca_file`, `host`).
    pub fn path(self) -> &'static str {
        match self {
            TlsKey::CaFile => "tls.ca_file",
            TlsKey::CertFile => "tls.cert_file",
            TlsKey::KeyFile => "tls.key_file",
            TlsKey::ServerName => "tls.server_name",
            TlsKey::Host => "host",
            TlsKey::Table => "tls",
        }
    }
}

impl fmt::Display for TlsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

/// Why a TLS client configuration could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct TlsError {
    /// The key at fault.
    pub key: TlsKey,
    /// What is wrong (names the file where there is one).
    pub message: String,
}

impl TlsError {
    fn new(key: TlsKey, message: impl Into<String>) -> Self {
        Self {
            key,
            message: message.into(),
        }
    }
}

impl ClientTlsConfig {
    /// Check the table by building the client configuration (reads and parses the files);
    /// `endpoint` is the endpoint's key path (`ingress[0]`), `host` the host it connects to.
    pub fn validate(&self, endpoint: &str, host: &str) -> Result<(), Invalid> {
        self.client_config(host)
            .map(|_| ())
            .map_err(|e| Invalid::new(format!("{endpoint}.{}", e.key), e.message))
    }

    /// Build the rustls client configuration for a connection to `host` (the name the
    /// transport connects to and sends as SNI).
    pub fn client_config(&self, host: &str) -> Result<Arc<ClientConfig>, TlsError> {
        // The transport derives the SNI / verification name from the host itself: it must be
        // a valid server name even when `server_name` overrides the verified one.
        ServerName::try_from(host).map_err(|e| {
            TlsError::new(
                TlsKey::Host,
                format!("{host:?} is not a DNS name or IP address usable for TLS: {e}"),
            )
        })?;
        let provider = provider();
        let roots = Arc::new(load_roots(&self.ca_file)?);
        let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| {
                TlsError::new(TlsKey::CaFile, format!("{}: {e}", self.ca_file.display()))
            })?;
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::new(TlsKey::Table, format!("crypto provider: {e}")))?;
        let builder = match &self.server_name {
            Some(name) => {
                let name = ServerName::try_from(name.clone()).map_err(|e| {
                    TlsError::new(
                        TlsKey::ServerName,
                        format!("{name:?} is not a DNS name or IP address: {e}"),
                    )
                })?;
                // Full verification (chain, validity, name) against `server_name` instead of
                // the host; `dangerous()` is only the rustls door to a custom verifier.
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(NamedServerVerifier {
                        inner: webpki,
                        name,
                    }))
            }
            None => builder.with_webpki_verifier(webpki),
        };
        let config = match (&self.cert_file, &self.key_file) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert), Some(key)) => {
                let chain = load_certs(cert, TlsKey::CertFile)?;
                let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                    TlsError::new(
                        TlsKey::KeyFile,
                        format!(
                            "{}: no usable PEM private key: {}",
                            key.display(),
                            pem_msg(&e)
                        ),
                    )
                })?;
                builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                    TlsError::new(
                        TlsKey::KeyFile,
                        format!("{}: not usable with {}: {e}", key.display(), cert.display()),
                    )
                })?
            }
            (Some(_), None) => {
                return Err(TlsError::new(
                    TlsKey::KeyFile,
                    "cert_file and key_file go together (key_file missing)",
                ));
            }
            (None, Some(_)) => {
                return Err(TlsError::new(
                    TlsKey::CertFile,
                    "cert_file and key_file go together (cert_file missing)",
                ));
            }
        };
        Ok(Arc::new(config))
    }
}

fn pem_msg(e: &rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::NoItemsFound => String::from("none found"),
        other => other.to_string(),
    }
}

fn load_certs(path: &Path, key: TlsKey) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |m: String| TlsError::new(key, format!("{}: {m}", path.display()));
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(pem_msg(&e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(pem_msg(&e)))?;
    if certs.is_empty() {
        return Err(err(String::from("no PEM certificate in the file")));
    }
    Ok(certs)
}

fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for (i, cert) in load_certs(path, TlsKey::CaFile)?.into_iter().enumerate() {
        roots.add(cert).map_err(|e| {
            TlsError::new(
                TlsKey::CaFile,
                format!(
                    "{}: certificate #{} is not a usable trust anchor: {e}",
                    path.display(),
                    i + 1
                ),
            )
        })?;
    }
    Ok(roots)
}

/// The webpki verifier with a fixed name: the certificate is checked exactly as by
/// [`WebPkiServerVerifier`], against the configured `server_name` instead of the host.
#[derive(Debug)]
struct NamedServerVerifier {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for NamedServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _host: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
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

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

/// The crypto provider used for every TLS client built here (rustls with *ring*).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}
