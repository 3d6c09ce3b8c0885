//! The TLS flags: the server's certificate and key, the client CAs for
//! mutual TLS, and the handshake limits. Without `--tls-cert`, clients
//! connect in plain TCP as before.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use router_tls::{TlsConfig, TlsConfigError, TlsLimits};

/// TLS for client connections (rustls; TLS 1.2 and 1.3).
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub(crate) struct TlsFlags {
    /// Serve clients over TLS with this PEM certificate chain (the server's
    /// certificate first). Requires --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,

    /// Require client certificates issued by a CA in this PEM file (mutual
    /// TLS); a client without one gets no ID. Requires --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_client_ca: Option<PathBuf>,

    /// A client that has not completed its TLS handshake this long after
    /// connecting is closed (counted `timeout`). Separate from
    /// --idle-timeout, which starts once the client has its ID.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub(crate) tls_handshake_timeout: Duration,

    /// TLS handshakes under way at once, in the whole process (each shard
    /// gets its share); a connection beyond it is closed at once (counted
    /// `too_many`), so that stalled handshakes cannot grow memory without
    /// bound.
    #[arg(long, value_name = "N", default_value_t = TlsLimits::default().max_handshakes)]
    pub(crate) tls_max_handshakes: usize,
}

impl TlsFlags {
    /// The TLS settings, loaded from the files, or `None` without
    /// `--tls-cert`.
    pub(crate) fn config(&self) -> Result<Option<TlsConfig>, TlsConfigError> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let limits = TlsLimits {
            handshake_timeout: self.tls_handshake_timeout,
            max_handshakes: self.tls_max_handshakes,
        };
        TlsConfig::from_pem_files(cert, key, self.tls_client_ca.as_deref(), limits).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Flags {
        #[command(flatten)]
        tls: TlsFlags,
    }

    fn parse(args: &[&str]) -> Result<TlsFlags, clap::Error> {
        Flags::try_parse_from(["router"].iter().chain(args)).map(|flags| flags.tls)
    }

    #[test]
    fn without_flags_tls_is_off_with_the_layers_default_limits() {
        let flags = parse(&[]).unwrap();
        assert_eq!(flags.config().unwrap().map(|c| c.limits), None);
        let defaults = TlsLimits::default();
        assert_eq!(flags.tls_handshake_timeout, defaults.handshake_timeout);
        assert_eq!(flags.tls_max_handshakes, defaults.max_handshakes);
    }

    #[test]
    fn a_certificate_needs_its_key_and_a_client_ca_needs_both() {
        for args in [
            &["--tls-cert=server.pem"][..],
            &["--tls-key=server.key"],
            &["--tls-client-ca=ca.pem"],
        ] {
            let error = parse(args).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn the_files_and_limits_reach_the_config() {
        let pki = router_tls::test_certs::TestPki::new();
        let (cert, key, ca) = (
            pki.path("server.pem"),
            pki.path("server.key"),
            pki.path("ca.pem"),
        );
        let flags = parse(&[
            &format!("--tls-cert={}", cert.display()),
            &format!("--tls-key={}", key.display()),
            &format!("--tls-client-ca={}", ca.display()),
            "--tls-handshake-timeout=2s 500ms",
            "--tls-max-handshakes=7",
        ])
        .unwrap();
        let config = flags.config().unwrap().expect("TLS on");
        assert!(config.client_auth());
        assert_eq!(
            config.limits,
            TlsLimits {
                handshake_timeout: Duration::from_millis(2500),
                max_handshakes: 7,
            }
        );
    }

    #[test]
    fn a_missing_or_wrong_file_is_a_clear_error() {
        let pki = router_tls::test_certs::TestPki::new();
        let cert = pki.path("server.pem");
        let flags = parse(&[
            &format!("--tls-cert={}", cert.display()),
            "--tls-key=/nonexistent/server.key",
        ])
        .unwrap();
        let error = flags.config().unwrap_err().to_string();
        assert!(
            error.starts_with("private key /nonexistent/server.key"),
            "{error}"
        );
        // A certificate where the key should be.
        let flags = parse(&[
            &format!("--tls-cert={}", cert.display()),
            &format!("--tls-key={}", cert.display()),
        ])
        .unwrap();
        let error = flags.config().unwrap_err().to_string();
        assert!(error.contains("private key"), "{error}");
    }
}
