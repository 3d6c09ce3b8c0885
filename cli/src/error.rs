//! What can go wrong, and the exit code each failure gets.

use std::io;
use std::process::ExitCode;

use router_client::tls::{TlsConfigError, rustls};
use router_client::{Error, PayloadError};
use thiserror::Error;

/// A failed command.
#[derive(Debug, Error)]
pub(crate) enum CliError {
    /// No connection: nothing listens at the address, or it is unreachable.
    #[error("cannot connect to {addr}: {source} (is the router running there?)")]
    Connect {
        addr: String,
        #[source]
        source: io::Error,
    },
    /// The connection failed, or the router's bytes broke the protocol.
    #[error("connection to {addr}: {source}")]
    Connection {
        addr: String,
        #[source]
        source: Error,
    },
    /// The TLS handshake failed: the router's certificate is not trusted or
    /// not for the server name, or the router refused this client's.
    #[error(
        "TLS handshake with {addr} failed: {source} (check --tls-ca, \
         --tls-server-name, and --tls-cert/--tls-key if the router asks for a client certificate)"
    )]
    Handshake {
        addr: String,
        #[source]
        source: rustls::Error,
    },
    /// `--tls-ca`, `--tls-cert` or `--tls-key` cannot be used.
    #[error("{0}")]
    TlsFiles(#[source] TlsConfigError),
    /// The server name is neither a DNS name nor an IP address.
    #[error(
        "{name:?} is not a DNS name or an IP address: give the name in the \
         router's certificate with --tls-server-name"
    )]
    ServerName { name: String },
    /// A payload the protocol cannot carry.
    #[error("{what}: {source}")]
    Payload {
        /// Which payload: a message argument or a line of standard input.
        what: String,
        #[source]
        source: PayloadError,
    },
    /// Reading standard input, or writing standard output, failed.
    #[error("{what}: {source}")]
    Terminal {
        what: &'static str,
        #[source]
        source: io::Error,
    },
}

impl CliError {
    /// A client error on the connection to `addr`, as the right variant.
    pub(crate) fn connection(addr: &str, error: Error) -> Self {
        match error {
            Error::Payload(source) => CliError::Payload {
                what: "payload".into(),
                source,
            },
            source => CliError::Connection {
                addr: addr.into(),
                source,
            },
        }
    }

    /// 1: the connection failed; 2: bad arguments (clap's, and TLS files
    /// or a server name that cannot be used); 3: a payload with `0x00`;
    /// 4: the TLS handshake failed.
    pub(crate) fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Connect { .. } | CliError::Connection { .. } | CliError::Terminal { .. } => {
                ExitCode::from(1)
            }
            CliError::TlsFiles(_) | CliError::ServerName { .. } => ExitCode::from(2),
            CliError::Payload { .. } => ExitCode::from(3),
            CliError::Handshake { .. } => ExitCode::from(4),
        }
    }
}
