//! One client connection's state inside the router.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::budget::Footprint;
use crate::frame::FrameDecoder;
use crate::outbound::OutboundQueue;

/// A frame its sender could not deliver yet because the destination is full.
/// While it is held, the sender is paused: nothing behind it is routed, so
/// per-pair order holds.
#[derive(Debug)]
pub(crate) struct HeldFrame {
    pub(crate) dest: u32,
    pub(crate) payload: Bytes,
}

#[derive(Debug)]
pub(crate) struct Conn {
    /// Reassembles what the client sends.
    pub(crate) decoder: FrameDecoder,
    /// What waits to be written to the client.
    pub(crate) outbound: OutboundQueue,
    /// Set while the connection is paused.
    pub(crate) held: Option<HeldFrame>,
    /// Senders paused because this connection's queue is full.
    pub(crate) waiters: Vec<u32>,
    /// Some peer core was told this connection is full, and must hear when
    /// it drains or closes.
    pub(crate) peers_told_full: bool,
    /// EOF was read (or shutdown began): nothing more is read, no new frame is
    /// queued to it, and it closes once flushed.
    pub(crate) closing: bool,
    /// The driver last reported the socket writable (no `WouldBlock` since).
    pub(crate) writable: bool,
    /// Listed in the router's ready-to-write queue.
    pub(crate) in_ready_queue: bool,
    /// Last time the client sent anything, or was resumed after a pause (the
    /// idle clock does not run while the router holds its input).
    pub(crate) last_input: Instant,
    /// Last time the queue went from empty to non-empty, or a write made
    /// progress: the write-stall clock starts here.
    pub(crate) last_write_progress: Instant,
    /// The instant this connection is scheduled at in the deadline queue.
    pub(crate) scheduled: Option<Instant>,
    /// What the memory budget last counted for it.
    pub(crate) footprint: Footprint,
    /// Its unfinished frame was discarded to keep the router within
    /// `max_buffered_bytes`: it is closing, and closes as `MemoryBudget`.
    pub(crate) shed: bool,
}

/// Why a connection's deadline is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeadlineKind {
    WriteStall,
    Idle,
}

impl Conn {
    pub(crate) fn new(id: u32, now: Instant) -> Self {
        Conn {
            decoder: FrameDecoder::default(),
            outbound: OutboundQueue::with_id(id),
            held: None,
            waiters: Vec::new(),
            peers_told_full: false,
            closing: false,
            writable: true,
            in_ready_queue: false,
            last_input: now,
            last_write_progress: now,
            scheduled: None,
            footprint: Footprint::default(),
            shed: false,
        }
    }

    /// What it holds now, for the memory budget.
    pub(crate) fn current_footprint(&self) -> Footprint {
        let held = self.held.as_ref().map_or(0, |h| h.payload.len());
        let unfinished = if self.held.is_none() && !self.closing {
            self.decoder.buffered_len()
        } else {
            0
        };
        Footprint {
            heap: self.decoder.capacity() + self.outbound.capacity() + held,
            unfinished,
        }
    }

    /// The next instant something must happen to this connection, and what.
    pub(crate) fn deadline(
        &self,
        write_stall_timeout: Duration,
        idle_timeout: Option<Duration>,
    ) -> Option<(Instant, DeadlineKind)> {
        if !self.outbound.is_empty() {
            return Some((
                self.last_write_progress + write_stall_timeout,
                DeadlineKind::WriteStall,
            ));
        }
        // A paused sender is waiting on the router, not idle by choice; a closing
        // one has nothing queued and is closed on the spot.
        if self.held.is_some() || self.closing {
            return None;
        }
        let idle = idle_timeout?;
        let last_activity = self.last_input.max(self.last_write_progress);
        Some((last_activity + idle, DeadlineKind::Idle))
    }
}
