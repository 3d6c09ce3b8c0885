//! TLS for the router's client connections, written once for every driver.
//!
//! rustls is sans-IO (`read_tls`, `process_new_packets`, `reader`, `writer`,
//! `write_tls`), and so is this layer: it sits between a driver's sockets and
//! the [`router_core::Router`], which never learns that TLS exists. A driver
//! with TLS on keeps a [`TlsLoop`], which decides everything but the socket
//! calls and their readiness, the same way for every driver:
//!
//! 1. it hands each accepted socket to [`TlsLoop::accept`], which keys it by
//!    a [`PendingId`] while the handshake runs: no ID yet, no router state, a
//!    few KiB of rustls state;
//! 2. it [`TlsLoop::serve`]s such a socket when it is ready (reads into the
//!    layer, writes the handshake's records), then drains
//!    [`TlsLoop::poll_admitted`]: each client whose handshake completed comes
//!    out with its ID (`handle_accept`) and its [`Session`], and from then on
//!    the driver serves its socket like a plain one, its reads through
//!    [`TlsLoop::deliver`] and the router's writes through
//!    [`Session::write`], records left over by [`Session::flush`] at its
//!    writability (the router hears of the writability once none are
//!    left); sockets the layer is done with are dropped on the way;
//! 3. when the router closes a client, [`Session::close`] sends
//!    `close_notify`, and records the socket did not take go to
//!    [`TlsLoop::linger`];
//! 4. it sleeps no later than [`TlsLoop::poll_timeout`] and calls
//!    [`TlsLoop::handle_timeout`] then: a handshake not done within
//!    [`TlsLimits::handshake_timeout`] is closed and counted.
//!
//! The decisions themselves are [`Tls`]'s, a state machine that sees no
//! socket at all, only byte slices and instants.
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
//! plaintext is copied once out of rustls into the loop's buffer.

mod config;
mod counters;
mod pending;
mod session;
#[cfg(any(test, feature = "test-certs"))]
pub mod test_certs;
#[cfg(test)]
mod tests;
mod tls_loop;

pub use config::{TlsConfig, TlsConfigError, TlsLimits};
pub use counters::{HandshakeFailure, TlsCounters};
pub use pending::{PendingId, Tls, TlsEvent};
pub use session::{Received, Session};
pub use tls_loop::{Admitted, TlsLoop};
