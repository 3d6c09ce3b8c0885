//! Throwaway certificates for tests, made at run time with `rcgen`: a CA,
//! a server certificate for `localhost` it issued, and client certificates,
//! written as PEM files into a temporary directory that is removed on drop.
//! The project commits no key.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tempfile::TempDir;

use crate::{TlsConfig, TlsLimits};

/// A CA with a server certificate and a client certificate it issued.
pub struct TestPki {
    dir: TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key, as PEM text.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key.
    pub key_pem: String,
}

impl TestPki {
    /// A new CA, with `localhost`'s server certificate written out.
    pub fn new() -> TestPki {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("a CA key"))
            .expect("a CA certificate");
        let pki = TestPki { dir, ca };
        let server = pki.issue("localhost");
        std::fs::write(pki.path("ca.pem"), pki.ca.pem()).expect("ca.pem written");
        std::fs::write(pki.path("server.pem"), &server.cert_pem).expect("server.pem written");
        std::fs::write(pki.path("server.key"), &server.key_pem).expect("server.key written");
        pki
    }

    /// A leaf certificate for `name`, issued by this CA.
    pub fn issue(&self, name: &str) -> Identity {
        let key = KeyPair::generate().expect("a leaf key");
        let cert = CertificateParams::new(vec![name.to_owned()])
            .expect("leaf params")
            .signed_by(&key, &self.ca)
            .expect("a leaf certificate");
        Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// A file in the directory: `ca.pem`, `server.pem`, `server.key`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The server's settings: TLS, and mutual TLS with this CA if
    /// `client_auth`.
    pub fn server_config(&self, client_auth: bool, limits: TlsLimits) -> TlsConfig {
        let ca = self.path("ca.pem");
        TlsConfig::from_pem_files(
            &self.path("server.pem"),
            &self.path("server.key"),
            client_auth.then_some(ca.as_path()),
            limits,
        )
        .expect("the test certificates load")
    }

    /// A client that trusts this CA, presenting `identity` if any.
    pub fn client_config(&self, identity: Option<&Identity>) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots
            .add(self.ca.der().clone())
            .expect("the CA is a trust anchor");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("default versions")
            .with_root_certificates(roots);
        let config = match identity {
            None => builder.with_no_client_auth(),
            Some(identity) => {
                let chain = vec![
                    CertificateDer::from_pem_slice(identity.cert_pem.as_bytes())
                        .expect("a certificate"),
                ];
                let key =
                    PrivateKeyDer::from_pem_slice(identity.key_pem.as_bytes()).expect("a key");
                builder
                    .with_client_auth_cert(chain, key)
                    .expect("a client identity")
            }
        };
        Arc::new(config)
    }

    /// The name the server certificate is for.
    pub fn server_name() -> ServerName<'static> {
        ServerName::try_from("localhost").expect("a DNS name")
    }
}

impl Default for TestPki {
    fn default() -> Self {
        TestPki::new()
    }
}
