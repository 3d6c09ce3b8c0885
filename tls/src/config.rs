//! What the server needs to speak TLS: its certificate chain and key, the
//! CAs whose client certificates it accepts (mutual TLS), and the limits on
//! handshakes, loaded once at start.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The handshake limits, each with its command-line flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsLimits {
    /// How long a client may take from its connection to a completed
    /// handshake (`--tls-handshake-timeout`, default 10 s); past it the
    /// socket is closed and counted `timeout`. Also how long a closed
    /// connection may take to flush its last records and `close_notify`.
    /// It is separate from the protocol's `idle_timeout`, which starts only
    /// once the client has its ID.
    pub handshake_timeout: Duration,
    /// Connections that may be handshaking at once (`--tls-max-handshakes`,
    /// default 1024). A connection accepted beyond it is closed at once and
    /// counted `too_many`: each holds a few KiB, and a flood of stalled
    /// handshakes must not grow memory without bound.
    pub max_handshakes: usize,
}

impl Default for TlsLimits {
    fn default() -> Self {
        TlsLimits {
            handshake_timeout: Duration::from_secs(10),
            max_handshakes: 1024,
        }
    }
}

/// Why TLS could not be set up from the files given.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// A PEM file could not be read or parsed, or holds no item of the kind
    /// needed.
    #[error("{what} {path}: {source}")]
    Pem {
        /// "certificate chain", "private key" or "client CA".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong with it.
        source: pem::Error,
    },
    /// A client CA certificate is not a usable trust anchor.
    #[error("client CA {path}: {source}")]
    ClientCa {
        /// The file.
        path: PathBuf,
        /// rustls' reason.
        source: rustls::Error,
    },
    /// The client certificate verifier could not be built (no CA in the file).
    #[error("client CA {path}: {source}")]
    Verifier {
        /// The file.
        path: PathBuf,
        /// rustls' reason.
        source: rustls::server::VerifierBuilderError,
    },
    /// rustls refused the certificate and key (a key that does not match the
    /// certificate, an unsupported key type).
    #[error("certificate and key: {0}")]
    CertifiedKey(rustls::Error),
}

/// A server's TLS settings, ready to hand to a driver.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub(crate) server: Arc<ServerConfig>,
    client_auth: bool,
    /// The handshake limits.
    pub limits: TlsLimits,
}

impl TlsConfig {
    /// Loads a PEM certificate chain (leaf first) and its PEM private key
    /// (PKCS#8, PKCS#1 or SEC1), and, for mutual TLS, a PEM file of CA
    /// certificates: clients must then present a certificate that one of
    /// them issued, or the handshake fails (counted `certificate`).
    pub fn from_pem_files(
        cert_chain: &Path,
        key: &Path,
        client_ca: Option<&Path>,
        limits: TlsLimits,
    ) -> Result<TlsConfig, TlsConfigError> {
        let chain = CertificateDer::pem_file_iter(cert_chain)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .and_then(non_empty)
            .map_err(pem_error("certificate chain", cert_chain))?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(pem_error("private key", key))?;
        let roots = client_ca
            .map(|path| {
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(pem_error("client CA", path))?;
                let mut roots = RootCertStore::empty();
                for cert in certs {
                    roots.add(cert).map_err(|source| TlsConfigError::ClientCa {
                        path: path.to_owned(),
                        source,
                    })?;
                }
                Ok::<_, TlsConfigError>((path, roots))
            })
            .transpose()?;
        Self::new(chain, key, roots, limits)
    }

    fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        client_roots: Option<(&Path, RootCertStore)>,
        limits: TlsLimits,
    ) -> Result<TlsConfig, TlsConfigError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(TlsConfigError::CertifiedKey)?;
        let client_auth = client_roots.is_some();
        let builder = match client_roots {
            None => builder.with_no_client_auth(),
            Some((path, roots)) => {
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|source| TlsConfigError::Verifier {
                            path: path.to_owned(),
                            source,
                        })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let server = builder
            .with_single_cert(chain, key)
            .map_err(TlsConfigError::CertifiedKey)?;
        Ok(TlsConfig {
            server: Arc::new(server),
            client_auth,
            limits,
        })
    }

    /// Whether clients must present a certificate from the client CAs.
    pub fn client_auth(&self) -> bool {
        self.client_auth
    }
}

/// A [`TlsConfigError::Pem`] for `path`, holding `what`.
fn pem_error(what: &'static str, path: &Path) -> impl FnOnce(pem::Error) -> TlsConfigError {
    let path = path.to_owned();
    move |source| TlsConfigError::Pem { what, path, source }
}

fn non_empty(
    certs: Vec<CertificateDer<'static>>,
) -> Result<Vec<CertificateDer<'static>>, pem::Error> {
    if certs.is_empty() {
        Err(pem::Error::NoItemsFound)
    } else {
        Ok(certs)
    }
}
