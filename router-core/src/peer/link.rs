//! One peer link's state: both directions, flow control and liveness.

use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use crate::peer::wire::{self, Ack, BatchHeader, FRAME_OVERHEAD, Flags};
use crate::peer::{PeerId, PeerInfo};
use crate::stats::FrameCount;

/// A batch buffer larger than this is released once a batch sent used a
/// sixteenth of it or less (a heartbeat, an acknowledgement, a trickle: the
/// link has gone quiet), so that an idle link holds no window's worth of
/// heap. While batches stay large it is kept: growing a fresh one for every
/// batch cost a busy link a reallocation per doubling and a page fault per
/// 4 KiB (a tenth of a cluster node's CPU with 1 KiB frames).
const KEEP_BATCH_CAPACITY: usize = 64 * 1024;

/// What flow control charges for `count`: payload bytes plus each frame
/// record's overhead, so that many empty frames are bounded as well as few
/// large ones.
/// Saturating: a peer's counts are untrusted, and may be anything.
pub(crate) fn cost(count: FrameCount) -> u64 {
    count
        .bytes
        .saturating_add(count.frames.saturating_mul(FRAME_OVERHEAD as u64))
}

fn plus(a: FrameCount, b: FrameCount) -> FrameCount {
    FrameCount {
        frames: a.frames + b.frames,
        bytes: a.bytes + b.bytes,
    }
}

fn at_most(a: FrameCount, b: FrameCount) -> bool {
    a.frames <= b.frames && a.bytes <= b.bytes
}

/// The state of the link to one peer.
#[derive(Debug)]
pub(crate) struct PeerLink {
    /// The driver says it can reach the peer (`handle_peer_up`, until
    /// `handle_peer_down`).
    pub(crate) driver_up: bool,
    /// Heard from within `peer_timeout` (or since the driver's last up).
    pub(crate) alive: bool,
    /// Its last batch said it is shutting down.
    pub(crate) draining: bool,
    pub(crate) last_heard: Instant,
    /// When a batch was last handed to the driver for it.
    last_sent: Option<Instant>,
    heartbeat_due: bool,

    // Sending side.
    /// Frames handed to the driver, over this core's lifetime.
    sent: FrameCount,
    /// Frames in `out`, not yet handed over.
    pending: FrameCount,
    /// Frames the peer acknowledged (or that were written off when the link
    /// was lost).
    acked: FrameCount,
    /// The next batch's number.
    batch_seq: u64,
    /// The batch being built: empty, or a header's room then records.
    out: Vec<u8>,
    /// Bytes of records at the front of `out` (after the header's room)
    /// that went in cut batches already. They are skipped rather than
    /// drained one cut at a time, which would move the rest of `out` once
    /// per cut: quadratic in the batches one long `out` is cut into.
    out_sent: usize,
    /// Flags for the next batch (`RESET`, `ACK_REQUESTED`).
    flags: Flags,
    /// Where the records of the batch [`build`](Self::build) returned end
    /// in `out`, and the frames they carry: all of `out`, or what fits the
    /// batch size.
    cut: (usize, FrameCount),
    /// The batch `build` returned is cut from `out`, and was copied to
    /// `cut_out`.
    cut_short: bool,
    /// A cut batch: a header and the records of `out` that fit the batch
    /// size, copied, since the driver may take the buffer it is handed
    /// whole. Only links with a batch size (a NATS bridge) ever cut.
    cut_out: Vec<u8>,
    /// Its destinations reported full, and the senders here waiting on each.
    pub(crate) remote_full: FxHashMap<u32, Vec<u32>>,
    /// Senders waiting for room in the window.
    pub(crate) window_waiters: Vec<u32>,

    // Receiving side.
    /// The peer's incarnation, once heard.
    pub(crate) peer_epoch: Option<u64>,
    /// The peer's frame counts are relative to this core's incarnation, so
    /// a gap in them is frames lost.
    pub(crate) synced: bool,
    pub(crate) last_batch_seq: Option<u64>,
    /// Frames received from it, those lost in transit included.
    pub(crate) received: FrameCount,
    /// What the last acknowledgement handed to the driver said.
    pub(crate) acked_out: FrameCount,
    /// Its last batch asked for an acknowledgement.
    pub(crate) ack_requested: bool,
    /// Destinations here it was told are full, with `cost(received)` at the
    /// time: frames to one of them arriving a window later mean the signal was
    /// lost, and it is sent again.
    pub(crate) told_full: FxHashMap<u32, u64>,
}

impl PeerLink {
    pub(crate) fn new(now: Instant) -> Self {
        PeerLink {
            driver_up: true,
            alive: true,
            draining: false,
            last_heard: now,
            last_sent: None,
            heartbeat_due: true,
            sent: FrameCount::default(),
            pending: FrameCount::default(),
            acked: FrameCount::default(),
            batch_seq: 0,
            out: Vec::new(),
            out_sent: 0,
            flags: Flags::default(),
            cut: (0, FrameCount::default()),
            cut_short: false,
            cut_out: Vec::new(),
            remote_full: FxHashMap::default(),
            window_waiters: Vec::new(),
            peer_epoch: None,
            synced: false,
            last_batch_seq: None,
            received: FrameCount::default(),
            acked_out: FrameCount::default(),
            ack_requested: false,
            told_full: FxHashMap::default(),
        }
    }

    /// Frames for the peer are forwarded (otherwise dropped as `no_route`).
    pub(crate) fn usable(&self) -> bool {
        self.driver_up && self.alive && !self.draining
    }

    /// Payload bytes batched or sent and not acknowledged.
    pub(crate) fn in_flight_bytes(&self) -> u64 {
        plus(self.sent, self.pending).bytes - self.acked.bytes
    }

    fn in_flight_cost(&self) -> u64 {
        cost(plus(self.sent, self.pending)) - cost(self.acked)
    }

    /// Whether a frame of `len` payload bytes fits the window. A frame larger
    /// than the whole window goes alone, so that any frame the configuration
    /// allows gets through.
    pub(crate) fn fits(&self, len: usize, window: usize) -> bool {
        let in_flight = self.in_flight_cost();
        in_flight == 0 || in_flight + (len + FRAME_OVERHEAD) as u64 <= window as u64
    }

    /// The window is full: ask the peer to acknowledge at once.
    pub(crate) fn request_ack(&mut self) {
        self.flags = self.flags.with(Flags::ACK_REQUESTED);
    }

    pub(crate) fn push_frame(&mut self, dest: u32, payload: &[u8]) {
        self.start_batch();
        wire::push_frame(&mut self.out, dest, payload);
        self.pending.frames += 1;
        self.pending.bytes += payload.len() as u64;
    }

    pub(crate) fn push_signal(&mut self, dest: u32, full: bool) {
        self.start_batch();
        wire::push_signal(&mut self.out, dest, full);
    }

    fn start_batch(&mut self) {
        if self.out.is_empty() {
            wire::start_batch(&mut self.out);
        }
    }

    /// Records are batched for the peer and not yet handed to the driver.
    pub(crate) fn has_batched(&self) -> bool {
        !self.out.is_empty()
    }

    /// Frames batched and not yet handed to the driver.
    pub(crate) fn pending(&self) -> FrameCount {
        self.pending
    }

    /// Whether the peer's acknowledgement is possible: not more than was sent.
    pub(crate) fn check_ack(&self, ack: &Ack) -> bool {
        at_most(ack.received, self.sent)
    }

    pub(crate) fn apply_ack(&mut self, received: FrameCount) {
        self.acked = FrameCount {
            frames: self.acked.frames.max(received.frames),
            bytes: self.acked.bytes.max(received.bytes),
        };
    }

    /// Sends a batch at the next chance even with nothing in it.
    pub(crate) fn say_something(&mut self) {
        self.heartbeat_due = true;
    }

    /// The link is lost (down, silent, draining, or the peer restarted): the
    /// batch not yet handed over is discarded, what is in flight is written
    /// off, and every sender waiting on the peer is released. Returns the
    /// discarded frames and the released senders. The next batch says
    /// `RESET`, so the peer forgets what it was told is full here.
    pub(crate) fn lose(&mut self) -> (FrameCount, Vec<u32>) {
        let discarded = self.pending;
        self.pending = FrameCount::default();
        self.out = Vec::new();
        self.out_sent = 0;
        self.acked = self.sent;
        self.flags = Flags::RESET;
        self.heartbeat_due = true;
        self.told_full.clear();
        (discarded, self.release_waiters())
    }

    /// The peer restarted: counts towards it start again from 0, as its new
    /// run expects. Call after [`lose`](Self::lose), with nothing in flight.
    pub(crate) fn restart_counts(&mut self) {
        debug_assert_eq!(self.in_flight_bytes(), 0);
        self.sent = FrameCount::default();
        self.pending = FrameCount::default();
        self.acked = FrameCount::default();
    }

    /// Releases the senders paused behind the peer's full destinations
    /// (its signals were lost, or it reset) and behind the window.
    pub(crate) fn release_waiters(&mut self) -> Vec<u32> {
        let mut released: Vec<u32> = self.remote_full.drain().flat_map(|(_, w)| w).collect();
        released.append(&mut self.window_waiters);
        released
    }

    /// Whether the link has something to hand the driver.
    pub(crate) fn wants_batch(&self, window: usize) -> bool {
        if !self.driver_up {
            return false;
        }
        let unacked = cost(self.received).saturating_sub(cost(self.acked_out));
        !self.out.is_empty()
            || self.heartbeat_due
            || self.ack_requested
            || self.flags != Flags::default()
            || (self.peer_epoch.is_some() && unacked >= (window / 4) as u64)
    }

    /// Completes the batch for `to` and returns the buffer that holds it,
    /// and nothing else. It counts as sent only once [`taken`](Self::taken);
    /// the driver that takes it may take the buffer too, leaving another in
    /// its place (see [`Io::send_to_peer`](crate::Io::send_to_peer)).
    ///
    /// Records beyond `batch_bytes` are cut off and wait for the next batch
    /// (a record larger goes alone: the configuration makes sure it fits the
    /// link). A cut batch is copied out, each record once; `out` keeps the
    /// rest where it is.
    pub(crate) fn build(
        &mut self,
        me: PeerId,
        to: PeerId,
        layout_bits: (u8, u8),
        epoch: u64,
        draining: bool,
        batch_bytes: usize,
    ) -> &mut Vec<u8> {
        self.start_batch();
        let from = wire::HEADER_LEN + self.out_sent;
        self.cut_short = self.out_sent > 0 || self.out.len() > batch_bytes;
        self.cut = if self.cut_short {
            let budget = batch_bytes.saturating_sub(wire::HEADER_LEN);
            let (len, frames) = wire::records_within(&self.out[from..], budget);
            (from + len, frames)
        } else {
            (self.out.len(), self.pending)
        };
        let mut flags = self.flags;
        if draining {
            flags = flags.with(Flags::DRAINING);
        }
        let header = BatchHeader {
            flags,
            layout_bits,
            from: me,
            to,
            epoch,
            batch_seq: self.batch_seq,
            before: self.sent,
            ack: self.peer_epoch.map(|epoch| Ack {
                epoch,
                received: self.received,
            }),
        };
        let batch = if self.cut_short {
            self.cut_out.clear();
            self.cut_out.resize(wire::HEADER_LEN, 0);
            self.cut_out.extend_from_slice(&self.out[from..self.cut.0]);
            &mut self.cut_out
        } else {
            &mut self.out
        };
        wire::write_header(batch, &header);
        batch
    }

    /// The driver took the batch [`build`](Self::build) returned. Returns the
    /// frames it carried.
    pub(crate) fn taken(&mut self, now: Instant) -> FrameCount {
        let (end, carried) = self.cut;
        self.sent = plus(self.sent, carried);
        self.pending = FrameCount {
            frames: self.pending.frames - carried.frames,
            bytes: self.pending.bytes - carried.bytes,
        };
        self.batch_seq += 1;
        if self.peer_epoch.is_some() {
            self.acked_out = self.received;
        }
        self.ack_requested = false;
        self.heartbeat_due = false;
        self.flags = Flags::default();
        self.last_sent = Some(now);
        if self.cut_short {
            let records = end - (wire::HEADER_LEN + self.out_sent);
            release_if_idle(&mut self.cut_out, wire::HEADER_LEN + records);
            if end < self.out.len() {
                // The records left over start the next batch.
                self.out_sent = end - wire::HEADER_LEN;
            } else {
                self.out_sent = 0;
                release_if_idle(&mut self.out, end);
            }
        } else {
            // The driver's buffer, if it took ours: empty, or one a peer
            // returned; ours, with the batch in it, if it copied.
            release_if_idle(&mut self.out, end);
        }
        carried
    }

    /// Marks heartbeats and silence that are due at `now`. Returns true if
    /// the peer has just been silent for `peer_timeout`.
    pub(crate) fn check_timers(&mut self, now: Instant, peer_timeout: Duration) -> bool {
        if !self.driver_up {
            return false;
        }
        if self
            .last_sent
            .is_some_and(|at| at + heartbeat_interval(peer_timeout) <= now)
        {
            self.heartbeat_due = true;
        }
        if self.alive && self.last_heard + peer_timeout <= now {
            self.alive = false;
            return true;
        }
        false
    }

    /// The next instant [`check_timers`](Self::check_timers) has work.
    pub(crate) fn next_deadline(&self, peer_timeout: Duration) -> Option<Instant> {
        if !self.driver_up {
            return None;
        }
        let heartbeat = self
            .last_sent
            .filter(|_| !self.heartbeat_due)
            .map(|at| at + heartbeat_interval(peer_timeout));
        let silence = self.alive.then(|| self.last_heard + peer_timeout);
        heartbeat.into_iter().chain(silence).min()
    }

    pub(crate) fn info(&self) -> PeerInfo {
        PeerInfo {
            reachable: self.usable(),
            bytes_in_flight: self.in_flight_bytes(),
            batch_bytes: self.out.len() - self.out_sent,
            frames_batched: self.pending.frames,
            heap_bytes: self.out.capacity()
                + self.cut_out.capacity()
                + self.window_waiters.capacity() * size_of::<u32>()
                + self
                    .remote_full
                    .values()
                    .map(|w| w.capacity() * 4 + 32)
                    .sum::<usize>()
                + self.told_full.capacity() * 16,
            full_destinations: self.remote_full.len(),
        }
    }
}

/// Clears `buffer` for the next batch, or frees it if it is larger than
/// [`KEEP_BATCH_CAPACITY`] and the batch just sent, `used` bytes, took a
/// sixteenth of it or less.
fn release_if_idle(buffer: &mut Vec<u8>, used: usize) {
    if buffer.capacity() > KEEP_BATCH_CAPACITY && used <= buffer.capacity() / 16 {
        *buffer = Vec::new();
    } else {
        buffer.clear();
    }
}

/// A link says something at least this often, so that a peer hears it within
/// `peer_timeout` even if one heartbeat is late.
pub(crate) fn heartbeat_interval(peer_timeout: Duration) -> Duration {
    peer_timeout / 3
}
