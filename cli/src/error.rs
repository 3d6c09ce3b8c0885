//! What can go wrong, and the exit code each failure gets.

use std::io;
use std::process::ExitCode;

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

    /// 1: the connection failed; 3: a payload with `0x00`. (2, bad
    /// arguments, is clap's.)
    pub(crate) fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Connect { .. } | CliError::Connection { .. } | CliError::Terminal { .. } => {
                ExitCode::from(1)
            }
            CliError::Payload { .. } => ExitCode::from(3),
        }
    }
}
