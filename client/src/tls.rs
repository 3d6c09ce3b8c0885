//! TLS settings for the clients (feature `tls`): rustls with its ring
//! provider, as the router uses.
//!
//! Both clients take an `Arc<`[`rustls::ClientConfig`]`>` and a
//! [`ServerName`]; [`client_config`] builds the config a router's client
//! usually needs from PEM files: the CA that issued the router's
//! certificate, and, for a router that asks for client certificates
//! (mutual TLS, `router --tls-client-ca`), this client's certificate and key.
//!
//! ```no_run
//! use std::path::Path;
//! use router_client::tls::{self, ServerName};
//!
//! let config = tls::client_config(
//!     Path::new("ca.pem"),
//!     Some((Path::new("client.pem"), Path::new("client.key"))),
//! )?;
//! let name = ServerName::try_from("router.example")?;
//! # let _ = (config, name);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};
use thiserror::Error;

/// The rustls this crate speaks, so that callers build configs with the
/// same version.
pub use rustls;
pub use rustls::pki_types::ServerName;

use crate::error::Error;

/// Why [`client_config`] could not build a config from the files given.
#[derive(Debug, Error)]
pub enum TlsConfigError {
    /// A PEM file could not be read or parsed, or holds no item of the kind
    /// needed.
    #[error("{what} {path}: {source}")]
    Pem {
        /// "CA", "client certificate" or "client key".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong with it.
        source: pem::Error,
    },
    /// rustls refused a certificate or key: a CA that is not a usable trust
    /// anchor, a key that does not match the client certificate.
    #[error("{what}: {source}")]
    Rejected {
        /// Which file, or pair of files.
        what: String,
        /// rustls' reason.
        source: rustls::Error,
    },
}

/// A client config that trusts the CA certificates in the PEM file `ca`
/// (and nothing else: the router's certificate is usually issued by a
/// private CA), and presents `identity`, a PEM certificate chain (leaf
/// first) and its PEM private key, if the router asks for one.
pub fn client_config(
    ca: &Path,
    identity: Option<(&Path, &Path)>,
) -> Result<Arc<ClientConfig>, TlsConfigError> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(pem_error("CA", ca))? {
        roots
            .add(cert.map_err(pem_error("CA", ca))?)
            .map_err(|source| TlsConfigError::Rejected {
                what: format!("CA {}", ca.display()),
                source,
            })?;
    }
    if roots.is_empty() {
        return Err(pem_error("CA", ca)(pem::Error::NoItemsFound));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default protocol versions")
        .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .and_then(|chain| match chain.is_empty() {
                    true => Err(pem::Error::NoItemsFound),
                    false => Ok(chain),
                })
                .map_err(pem_error("client certificate", cert))?;
            let private_key =
                PrivateKeyDer::from_pem_file(key).map_err(pem_error("client key", key))?;
            builder
                .with_client_auth_cert(chain, private_key)
                .map_err(|source| TlsConfigError::Rejected {
                    what: format!(
                        "client certificate {} and key {}",
                        cert.display(),
                        key.display()
                    ),
                    source,
                })?
        }
    };
    Ok(Arc::new(config))
}

fn pem_error(what: &'static str, path: &Path) -> impl Fn(pem::Error) -> TlsConfigError {
    move |source| TlsConfigError::Pem {
        what,
        path: path.into(),
        source,
    }
}

/// A failed TLS read, write or handshake as the clients report it: rustls'
/// own verdict (an untrusted certificate, an alert from the router) as
/// [`Error::Tls`], which rustls' IO helpers and tokio-rustls wrap in an
/// `io::Error`; any other IO error as it is.
pub(crate) fn unwrap_io(error: io::Error) -> Error {
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => Error::Tls(tls.clone()),
        None => Error::Io(error),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    /// A self-signed certificate and its key, as PEM files in `dir`.
    fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        fs::write(&cert_path, cert.pem()).unwrap();
        fs::write(&key_path, key.serialize_pem()).unwrap();
        (cert_path, key_path)
    }

    #[test]
    fn a_ca_and_an_identity_make_a_config_that_presents_it() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed(dir.path());
        assert!(
            !client_config(&cert, None)
                .unwrap()
                .client_auth_cert_resolver
                .has_certs()
        );
        let config = client_config(&cert, Some((&cert, &key))).unwrap();
        assert!(config.client_auth_cert_resolver.has_certs());
    }

    #[test]
    fn unusable_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let error = client_config(&missing, None).unwrap_err();
        assert!(
            matches!(error, TlsConfigError::Pem { what: "CA", .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("missing.pem"), "{error}");

        let (cert, key) = self_signed(dir.path());
        let error = client_config(&key, None).unwrap_err();
        assert!(
            matches!(
                error,
                TlsConfigError::Pem {
                    source: pem::Error::NoItemsFound,
                    ..
                }
            ),
            "a key file is no CA: {error:?}"
        );
        let error = client_config(&cert, Some((&cert, &cert))).unwrap_err();
        assert!(
            matches!(
                error,
                TlsConfigError::Pem {
                    what: "client key",
                    ..
                }
            ),
            "{error:?}"
        );
    }
}
