//! The one error type of the load generator.

use std::io;

/// Why a run could not be set up or carried out.
///
/// Verification failures (corrupt, reordered or lost messages) are *not* errors of
/// this kind: they are counted in [`crate::stats::Faults`] and reported, so that one
/// bad frame does not hide the figures of the rest of the run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BenchError {
    /// A socket operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The Redis client reported an error.
    #[error("Redis error: {0}")]
    Redis(#[from] redis::RedisError),
    /// The NATS client reported an error (its error types differ per operation).
    #[error("NATS error: {0}")]
    Nats(String),
    /// The peer closed the connection while we still expected data.
    #[error("connection closed by the server")]
    Closed,
    /// A payload the router's protocol cannot carry (a bug in a workload).
    #[error(transparent)]
    Payload(#[from] router_client::PayloadError),
    /// What a server sent cannot be split into payloads.
    #[error("protocol error: {0}")]
    Decode(#[from] router_client::DecodeError),
    /// The server did not follow its protocol (e.g. a router sent no ID).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The workload cannot run on the chosen backend.
    #[error("{0}")]
    Unsupported(&'static str),
    /// The command line is inconsistent.
    #[error("invalid arguments: {0}")]
    Usage(String),
    /// A deadline passed during setup (connect, subscribe), so the run cannot start.
    #[error("timed out: {0}")]
    Timeout(&'static str),
}

impl BenchError {
    /// Wraps any NATS client error: `async-nats` has one error type per operation.
    pub(crate) fn nats(err: impl std::fmt::Display) -> Self {
        Self::Nats(err.to_string())
    }
}
