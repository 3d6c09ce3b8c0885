//! Counters of everything the router did, cheap to read at any time.
//!
//! Every dropped frame and every closed connection is counted under the cause
//! that decided it, so an operator can tell a misbehaving client from a slow one,
//! and the simulation can check that nothing is lost unaccounted.

/// Why a frame was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropCause {
    /// No live connection holds the destination ID (never assigned, or
    /// already closed).
    UnknownDestination,
    /// The destination is owned by another shard or node, and this core has no
    /// route to it.
    NoRoute,
    /// The destination was above its high-water mark under
    /// [`OverflowPolicy::Drop`](crate::OverflowPolicy::Drop).
    DestinationFull,
    /// The destination has closed, or is closing (it sent EOF and is flushing
    /// its last bytes), so the frame, queued or held for it, was never written.
    DestinationClosed,
    /// The frame exceeded `max_frame_bytes`: a protocol violation.
    Oversized,
    /// The sender closed first: frames it had sent whole but the router had
    /// not yet routed (held or buffered while it was paused) when it was reset
    /// or violated the protocol.
    SenderClosed,
    /// Part of a frame: its sender reached EOF, or was closed, in the middle of
    /// it. Not a whole frame, so not counted in [`Stats::received`].
    Truncated,
    /// Shutdown stopped reading before the frame could be routed.
    Shutdown,
    /// The router held more than `max_buffered_bytes` and the destination
    /// already had bytes queued, under
    /// [`OverflowPolicy::Drop`](crate::OverflowPolicy::Drop).
    MemoryBudget,
    /// Lost between two cores: the receiving core saw a gap in the link's
    /// sequence (the network dropped a batch, or a malformed one was refused).
    /// Counted by the receiver.
    InTransit,
    /// The window to the destination's owner was full under
    /// [`OverflowPolicy::Drop`](crate::OverflowPolicy::Drop), which never
    /// pauses a sender.
    PeerCongested,
}

impl DropCause {
    /// Every cause, for exporters that list them all.
    pub const ALL: [DropCause; 11] = [
        DropCause::UnknownDestination,
        DropCause::NoRoute,
        DropCause::DestinationFull,
        DropCause::DestinationClosed,
        DropCause::Oversized,
        DropCause::SenderClosed,
        DropCause::Truncated,
        DropCause::Shutdown,
        DropCause::MemoryBudget,
        DropCause::InTransit,
        DropCause::PeerCongested,
    ];

    /// A stable `snake_case` name, for metric labels and logs.
    pub const fn name(self) -> &'static str {
        match self {
            DropCause::UnknownDestination => "unknown_destination",
            DropCause::NoRoute => "no_route",
            DropCause::DestinationFull => "destination_full",
            DropCause::DestinationClosed => "destination_closed",
            DropCause::Oversized => "oversized",
            DropCause::SenderClosed => "sender_closed",
            DropCause::Truncated => "truncated",
            DropCause::Shutdown => "shutdown",
            DropCause::MemoryBudget => "memory_budget",
            DropCause::InTransit => "in_transit",
            DropCause::PeerCongested => "peer_congested",
        }
    }
}

/// Why a connection was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseCause {
    /// The client closed its side and everything queued to it was flushed.
    Eof,
    /// The connection failed: reset, or a read or write error.
    Reset,
    /// It held queued bytes and accepted none for `write_stall_timeout`.
    WriteStall,
    /// It sent nothing and had nothing queued for `idle_timeout`.
    Idle,
    /// It sent a frame larger than `max_frame_bytes`.
    ProtocolViolation,
    /// The router shut down.
    Shutdown,
    /// The router held more than `max_buffered_bytes`, and this connection
    /// held the largest unfinished frame: the frame was discarded, and the
    /// connection closed once what was queued to it was written.
    MemoryBudget,
}

impl CloseCause {
    /// Every cause, for exporters that list them all.
    pub const ALL: [CloseCause; 7] = [
        CloseCause::Eof,
        CloseCause::Reset,
        CloseCause::WriteStall,
        CloseCause::Idle,
        CloseCause::ProtocolViolation,
        CloseCause::Shutdown,
        CloseCause::MemoryBudget,
    ];

    /// A stable `snake_case` name, for metric labels and logs.
    pub const fn name(self) -> &'static str {
        match self {
            CloseCause::Eof => "eof",
            CloseCause::Reset => "reset",
            CloseCause::WriteStall => "write_stall",
            CloseCause::Idle => "idle",
            CloseCause::ProtocolViolation => "protocol_violation",
            CloseCause::Shutdown => "shutdown",
            CloseCause::MemoryBudget => "memory_budget",
        }
    }
}

/// A number of frames and the bytes they held (payload and terminator).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameCount {
    /// Frames.
    pub frames: u64,
    /// Payload bytes, terminators included.
    pub bytes: u64,
}

impl FrameCount {
    /// Saturating: a forged peer batch may claim any number of frames lost
    /// in transit, and a counter must not overflow on it.
    fn add(&mut self, frames: u64, bytes: u64) {
        self.frames = self.frames.saturating_add(frames);
        self.bytes = self.bytes.saturating_add(bytes);
    }
}

/// The router's counters. Monotonic totals end in their unit; gauges say "now".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections given an ID.
    pub connections_accepted: u64,
    /// Connections refused without an ID (limit reached, or shutting down).
    pub connections_refused: u64,
    /// Failed `accept` calls reported with
    /// [`handle_accept_error`](crate::Router::handle_accept_error): clients
    /// that gave up before they were accepted, and listener failures.
    pub accept_errors: u64,
    /// Times accepting was paused for
    /// [`accept_pause`](crate::Config::accept_pause) after the listener
    /// failed (out of file descriptors, most likely).
    pub accept_pauses: u64,
    /// Connections open now.
    pub connections_open: u64,
    /// Whole frames decoded from clients, whatever became of them.
    pub received: FrameCount,
    /// Frames queued to their destination.
    pub routed: FrameCount,
    /// Bytes written to clients and acknowledged with `handle_written`, IDs
    /// included.
    pub bytes_written: u64,
    /// Frames not delivered, by cause: whole frames, and the partial frames
    /// of senders that closed or broke the protocol mid-frame.
    dropped: [FrameCount; DropCause::ALL.len()],
    /// Connections closed, by cause.
    closed: [u64; CloseCause::ALL.len()],
    /// Senders whose reading is paused now, waiting on a full destination.
    pub senders_paused: u64,
    /// Times a sender was paused behind a full destination.
    pub sender_pauses: u64,
    /// Bytes queued to all destinations now, IDs included.
    pub bytes_queued: u64,
    /// Heap bytes all connections' buffers and queues hold now, the figure
    /// [`max_buffered_bytes`](crate::Config::max_buffered_bytes) bounds.
    pub bytes_buffered: u64,
    /// Times a sender was paused because the router held more than
    /// `max_buffered_bytes` (and its destination had bytes queued), rather
    /// than because the destination was above its high-water mark. Also
    /// counted in [`sender_pauses`](Self::sender_pauses).
    pub budget_pauses: u64,
    /// Frames handed to the driver for peer cores (in batches it took).
    pub forwarded: FrameCount,
    /// Frames received from peer cores, whatever became of them.
    pub from_peers: FrameCount,
    /// Payload bytes forwarded or batched for peers and not yet acknowledged,
    /// now: at most one `peer_window` per peer.
    pub peer_bytes_in_flight: u64,
    /// Times a sender was paused because a peer's window was full.
    pub peer_stalls: u64,
    /// Batches handed to the driver for peers.
    pub peer_batches_sent: u64,
    /// Batches from peers taken.
    pub peer_batches_received: u64,
    /// Batches from peers refused whole: malformed, for another core, from an
    /// unknown peer or another ID layout, replayed, or breaking the window.
    pub peer_batches_rejected: u64,
    /// Times a peer was declared unreachable after `peer_timeout` of silence.
    pub peer_timeouts: u64,
}

impl Stats {
    /// Frames and bytes dropped for `cause`.
    pub fn dropped(&self, cause: DropCause) -> FrameCount {
        self.dropped[cause as usize]
    }

    /// Frames and bytes dropped for any cause.
    pub fn dropped_total(&self) -> FrameCount {
        self.sum_dropped(|_| true)
    }

    /// Whole frames dropped: those counted in [`received`](Self::received) and
    /// not delivered. Excludes [`DropCause::Oversized`] and
    /// [`DropCause::Truncated`], which are never whole frames.
    pub fn dropped_whole(&self) -> FrameCount {
        self.sum_dropped(|cause| !matches!(cause, DropCause::Oversized | DropCause::Truncated))
    }

    fn sum_dropped(&self, include: impl Fn(DropCause) -> bool) -> FrameCount {
        let mut sum = FrameCount::default();
        for cause in DropCause::ALL.into_iter().filter(|&c| include(c)) {
            let count = self.dropped(cause);
            sum.add(count.frames, count.bytes);
        }
        sum
    }

    /// Connections closed for `cause`.
    pub fn closed(&self, cause: CloseCause) -> u64 {
        self.closed[cause as usize]
    }

    /// Connections closed for any cause.
    pub fn closed_total(&self) -> u64 {
        self.closed.iter().sum()
    }

    /// Adds `other`'s counts to these: the counters of a router run as
    /// several cores (shards) are their sum, gauges included.
    pub fn add(&mut self, other: &Stats) {
        let Stats {
            connections_accepted,
            connections_refused,
            accept_errors,
            accept_pauses,
            connections_open,
            received,
            routed,
            bytes_written,
            dropped,
            closed,
            senders_paused,
            sender_pauses,
            bytes_queued,
            bytes_buffered,
            budget_pauses,
            forwarded,
            from_peers,
            peer_bytes_in_flight,
            peer_stalls,
            peer_batches_sent,
            peer_batches_received,
            peer_batches_rejected,
            peer_timeouts,
        } = other;
        for (sum, count) in [
            (&mut self.connections_accepted, connections_accepted),
            (&mut self.connections_refused, connections_refused),
            (&mut self.accept_errors, accept_errors),
            (&mut self.accept_pauses, accept_pauses),
            (&mut self.connections_open, connections_open),
            (&mut self.bytes_written, bytes_written),
            (&mut self.senders_paused, senders_paused),
            (&mut self.sender_pauses, sender_pauses),
            (&mut self.bytes_queued, bytes_queued),
            (&mut self.bytes_buffered, bytes_buffered),
            (&mut self.budget_pauses, budget_pauses),
            (&mut self.peer_bytes_in_flight, peer_bytes_in_flight),
            (&mut self.peer_stalls, peer_stalls),
            (&mut self.peer_batches_sent, peer_batches_sent),
            (&mut self.peer_batches_received, peer_batches_received),
            (&mut self.peer_batches_rejected, peer_batches_rejected),
            (&mut self.peer_timeouts, peer_timeouts),
        ] {
            *sum = sum.saturating_add(*count);
        }
        for (sum, count) in [
            (&mut self.received, received),
            (&mut self.routed, routed),
            (&mut self.forwarded, forwarded),
            (&mut self.from_peers, from_peers),
        ]
        .into_iter()
        .chain(self.dropped.iter_mut().zip(dropped))
        {
            sum.add(count.frames, count.bytes);
        }
        for (sum, count) in self.closed.iter_mut().zip(closed) {
            *sum = sum.saturating_add(*count);
        }
    }

    pub(crate) fn count_drop(&mut self, cause: DropCause, frames: u64, bytes: u64) {
        self.dropped[cause as usize].add(frames, bytes);
    }

    pub(crate) fn count_close(&mut self, cause: CloseCause) {
        self.closed[cause as usize] += 1;
        self.connections_open -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sum_adds_every_count() {
        let mut one = Stats {
            connections_accepted: 2,
            connections_open: 1,
            peer_timeouts: 1,
            ..Stats::default()
        };
        one.count_drop(DropCause::NoRoute, 1, 10);
        one.closed[CloseCause::Eof as usize] = 1;
        let mut sum = one.clone();
        sum.add(&one);
        assert_eq!(sum.connections_accepted, 4);
        assert_eq!(sum.connections_open, 2);
        assert_eq!(sum.peer_timeouts, 2);
        assert_eq!(
            sum.dropped(DropCause::NoRoute),
            FrameCount {
                frames: 2,
                bytes: 20
            }
        );
        assert_eq!(sum.closed(CloseCause::Eof), 2);
        let mut zero = Stats::default();
        zero.add(&one);
        assert_eq!(zero, one, "adding to zero copies");
    }

    #[test]
    fn causes_index_their_own_counters() {
        let mut stats = Stats::default();
        for (i, cause) in DropCause::ALL.into_iter().enumerate() {
            assert_eq!(cause as usize, i);
            stats.count_drop(cause, 1, i as u64);
        }
        let count = |frames, bytes| FrameCount { frames, bytes };
        assert_eq!(stats.dropped(DropCause::Shutdown), count(1, 7));
        assert_eq!(stats.dropped_total(), count(11, 55));
        // Oversized (4 bytes) and Truncated (6 bytes) are not whole frames.
        assert_eq!(stats.dropped_whole(), count(9, 55 - 4 - 6));
        for (i, cause) in CloseCause::ALL.into_iter().enumerate() {
            assert_eq!(cause as usize, i);
        }
        stats.connections_open = 1;
        stats.count_close(CloseCause::Idle);
        assert_eq!(stats.closed(CloseCause::Idle), 1);
        assert_eq!(stats.closed_total(), 1);
    }
}
