//! What receivers count: verification faults, and messages and latency inside the
//! measurement window.

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::payload::PayloadFault;

/// Verification failures of one run. Any non-zero count flags the run as failed.
#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct Faults {
    /// Payloads of the wrong length or with an unreadable header (cut or merged frames).
    pub(crate) malformed: u64,
    /// Payloads whose filler did not match (changed or shifted bytes).
    pub(crate) corrupt: u64,
    /// Payloads that arrived out of per-sender order, or duplicated.
    pub(crate) out_of_order: u64,
    /// Payloads claiming a sender that does not send to this receiver (misrouted).
    pub(crate) misrouted: u64,
    /// Messages sent but never received before the hard deadline.
    pub(crate) lost: u64,
    /// Connections that failed mid-run (I/O or client errors).
    pub(crate) connection_errors: u64,
}

impl Faults {
    /// Counts one payload that failed [`crate::payload::Pattern::decode`].
    pub(crate) fn count(&mut self, fault: PayloadFault) {
        match fault {
            PayloadFault::Malformed => self.malformed += 1,
            PayloadFault::Corrupt => self.corrupt += 1,
        }
    }

    /// Sum of every kind of fault.
    pub(crate) fn total(&self) -> u64 {
        self.malformed
            + self.corrupt
            + self.out_of_order
            + self.misrouted
            + self.lost
            + self.connection_errors
    }

    /// Adds another receiver's counts.
    pub(crate) fn merge(&mut self, other: &Faults) {
        self.malformed += other.malformed;
        self.corrupt += other.corrupt;
        self.out_of_order += other.out_of_order;
        self.misrouted += other.misrouted;
        self.lost += other.lost;
        self.connection_errors += other.connection_errors;
    }
}

/// Counts of one receiver (or of a whole run, once merged).
#[derive(Debug, Clone)]
pub(crate) struct Tally {
    /// Messages received inside the measurement window.
    pub(crate) messages: u64,
    /// Payload bytes (terminators excluded) received inside the window.
    pub(crate) bytes: u64,
    /// Latency in nanoseconds of the messages received inside the window.
    pub(crate) latency_ns: Histogram<u64>,
    /// Verification failures over the whole run, warm-up included.
    pub(crate) faults: Faults,
}

impl Tally {
    /// An empty tally.
    pub(crate) fn new() -> Self {
        Self {
            messages: 0,
            bytes: 0,
            // Auto-resizing, 3 significant digits: ~0.1 % error at any latency.
            latency_ns: Histogram::new(3).expect("3 significant digits is valid"),
            faults: Faults::default(),
        }
    }

    /// Records one message received inside the measurement window.
    pub(crate) fn record(&mut self, bytes: usize, latency_ns: u64) {
        self.messages += 1;
        self.bytes += bytes as u64;
        // Auto-resize makes recording infallible except for u64 overflow.
        let _ = self.latency_ns.record(latency_ns.max(1));
    }

    /// Adds another tally.
    pub(crate) fn merge(&mut self, other: &Tally) {
        self.messages += other.messages;
        self.bytes += other.bytes;
        let _ = self.latency_ns.add(&other.latency_ns);
        self.faults.merge(&other.faults);
    }
}
