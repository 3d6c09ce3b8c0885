//! TLS for the router's client connections, written once for every driver.
//!
//! rustls is sans-IO (`read_tls`, `process_new_packets`, `reader`, `writer`,
//! `write_tls`), and so is this layer: it sits between a driver's sockets and
//! the [`router_core::Router`], which never learns that TLS exists. A driver
//! with TLS on:
//!
//! 1. hands each accepted socket to [`Tls::accept`], and keys it by the
//!    [`PendingId`] it returns while the handshake runs: no ID yet, no
//!    router state, a few KiB of rustls state;
//! 2. passes what it reads from such a socket to [`Tls::handle_input`], then
//!    [`Tls::flush`]es it, and drains [`Tls::poll_event`]: on
//!    [`TlsEvent::Established`] it takes the [`Session`], asks the router
//!    for an ID (`handle_accept`), and from then on serves the socket like a
//!    plain one, its reads through [`Session::receive`] and the router's
//!    writes through [`Session::write`]; on [`TlsEvent::Close`] it drops the
//!    socket;
//! 3. sleeps no later than [`Tls::poll_timeout`] and calls
//!    [`Tls::handle_timeout`] then: a handshake not done within
//!    [`TlsLimits::handshake_timeout`] is closed and counted.
//!
//! Failures are counted by cause ([`HandshakeFailure`], in [`TlsCounters`])
//! and logged at most once per 10 s per cause.
//!
//! # Writes
//!
//! The router's coalesced, vectored writes survive: [`Session::write`]
//! encrypts the slices in records that span them (16 KiB each), and writes
//! the records with one vectored write. Plaintext is copied once more than
//! without TLS, into records, which encryption needs anyway; received
//! plaintext is copied once out of rustls into the driver's scratch buffer.

mod config;
mod counters;
mod pending;
mod session;
#[cfg(any(test, feature = "test-certs"))]
pub mod test_certs;
#[cfg(test)]
mod tests;

pub use config::{TlsConfig, TlsConfigError, TlsLimits};
pub use counters::{HandshakeFailure, TlsCounters};
pub use pending::{PendingId, Tls, TlsEvent};
pub use session::{Received, Session};
