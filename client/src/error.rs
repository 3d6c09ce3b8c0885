//! The clients' errors.

use std::io;

use thiserror::Error;

use crate::decoder::DecodeError;
use crate::frame::PayloadError;

/// Why a client call failed.
#[derive(Debug, Error)]
pub enum Error {
    /// The payload cannot be sent (it contains `0x00`); nothing was written
    /// and the connection is unaffected.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The router's bytes are not what the protocol says, or stopped at the
    /// wrong point.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The socket failed: connecting, reading or writing.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// TLS failed (feature `tls`): the handshake (the router's certificate
    /// is not trusted or not for the name given, or the router refused this
    /// client's certificate), or a record the router sent later.
    #[cfg(feature = "tls")]
    #[error("TLS: {0}")]
    Tls(rustls::Error),
}

/// Why [`try_send`](crate::blocking::Client::try_send) did not take a frame.
#[derive(Debug, Error)]
pub enum TrySendError {
    /// The socket cannot take the frame now, most likely because the router
    /// paused this sender behind a full destination. Nothing of the frame was
    /// written; drop it, or try again later.
    #[error(
        "the socket cannot take the frame now (the router is not reading this sender); nothing was sent"
    )]
    Full,
    /// The frame was refused, or the socket failed, as for `send`.
    #[error(transparent)]
    Failed(#[from] Error),
}

impl From<PayloadError> for TrySendError {
    fn from(error: PayloadError) -> Self {
        TrySendError::Failed(error.into())
    }
}

impl From<io::Error> for TrySendError {
    fn from(error: io::Error) -> Self {
        TrySendError::Failed(error.into())
    }
}

/// For callers that speak `io::Result`: a socket error as it was; a refused
/// payload as `InvalidInput`; bytes that break the protocol, or a TLS
/// failure, as `InvalidData`.
impl From<Error> for io::Error {
    fn from(error: Error) -> Self {
        match error {
            Error::Io(error) => error,
            Error::Payload(error) => io::Error::new(io::ErrorKind::InvalidInput, error),
            Error::Decode(error) => io::Error::new(io::ErrorKind::InvalidData, error),
            #[cfg(feature = "tls")]
            Error::Tls(error) => io::Error::new(io::ErrorKind::InvalidData, error),
        }
    }
}
