//! What the TLS layer counts: handshakes completed, and failed by cause.
//!
//! Shared atomics rather than a struct handed out per loop turn: the layer
//! bumps one counter per handshake (never per byte), and the metrics
//! endpoint reads them from its own thread whichever driver runs.

use std::sync::atomic::{AtomicU64, Ordering};

/// Why a handshake did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandshakeFailure {
    /// Not complete within `handshake_timeout` (a stalled or very slow client).
    Timeout,
    /// Mutual TLS: no client certificate, or one no client CA issued.
    Certificate,
    /// Not TLS (garbage instead of a ClientHello), or TLS the server does not
    /// speak (no common version or cipher suite), or a peer that broke the
    /// protocol.
    Protocol,
    /// The client closed or reset the connection before the handshake ended.
    Closed,
    /// Refused on accept: `max_handshakes` were already under way.
    TooMany,
}

impl HandshakeFailure {
    /// Every cause, in the order metrics list them.
    pub const ALL: [HandshakeFailure; 5] = [
        HandshakeFailure::Timeout,
        HandshakeFailure::Certificate,
        HandshakeFailure::Protocol,
        HandshakeFailure::Closed,
        HandshakeFailure::TooMany,
    ];

    /// Its name in metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            HandshakeFailure::Timeout => "timeout",
            HandshakeFailure::Certificate => "certificate",
            HandshakeFailure::Protocol => "protocol",
            HandshakeFailure::Closed => "closed",
            HandshakeFailure::TooMany => "too_many",
        }
    }

    /// The cause of a handshake that rustls failed.
    pub(crate) fn of(error: &rustls::Error) -> HandshakeFailure {
        match error {
            rustls::Error::NoCertificatesPresented | rustls::Error::InvalidCertificate(_) => {
                HandshakeFailure::Certificate
            }
            _ => HandshakeFailure::Protocol,
        }
    }
}

/// The layer's counters, read with [`completed`](Self::completed) and
/// [`failed`](Self::failed).
#[derive(Debug, Default)]
pub struct TlsCounters {
    completed: AtomicU64,
    failed: [AtomicU64; HandshakeFailure::ALL.len()],
}

impl TlsCounters {
    /// Handshakes completed (each then handed to the router for an ID).
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    /// Handshakes that failed with `cause`.
    pub fn failed(&self, cause: HandshakeFailure) -> u64 {
        self.failed[cause as usize].load(Ordering::Relaxed)
    }

    pub(crate) fn count_completed(&self) {
        self.completed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_failed(&self, cause: HandshakeFailure) {
        self.failed[cause as usize].fetch_add(1, Ordering::Relaxed);
    }
}
