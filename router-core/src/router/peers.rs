//! The router's side of its peer links: forwarding frames for IDs another
//! core owns, taking the frames peers forward here, flow control, pause
//! signals and liveness. The state of one link is [`PeerLink`]; the bytes
//! between cores are [`wire`] batches.

use std::time::Instant;

use rustc_hash::FxHashMap;

use tracing::{debug, trace, warn};

use super::{Router, enqueue};
use crate::config::{Config, OverflowPolicy};
use crate::conn::HeldFrame;
use crate::frame::{Frame, Payload};
use crate::ids::Owner;
use crate::peer::cost;
use crate::peer::wire::{self, Batch, Flags, Record};
use crate::peer::{PeerError, PeerId, PeerInfo, PeerLink};
use crate::stats::{DropCause, FrameCount};

/// Why a batch from a peer was refused.
#[derive(Debug, Clone, Copy, thiserror::Error)]
enum Refusal {
    #[error("malformed: {0}")]
    Malformed(wire::WireError),
    #[error("another id_layout")]
    OtherLayout,
    #[error("addressed to another core")]
    NotForUs,
    #[error("from a peer not up")]
    UnknownPeer,
    #[error("replayed batch")]
    Replayed,
    #[error("frame sequence goes backwards")]
    SequenceBackwards,
    #[error("frame counts overflow")]
    CountOverflow,
    #[error("beyond the window")]
    OverWindow,
}

impl Router {
    /// The driver can reach `peer` (another shard of this node, or a core of
    /// another node): frames for the IDs it owns are forwarded to it from now
    /// on. The first call creates the link; a call for a link already up
    /// does nothing but restart its silence clock. The peer has
    /// `peer_timeout` to be heard from.
    ///
    /// Call it for every peer the driver can send to, when it starts and
    /// whenever a link (a ring, a NATS connection) comes back; then drive the
    /// router: its first batch, a heartbeat if it has nothing else, is the
    /// hello that tells the peer this core's layout and incarnation.
    pub fn handle_peer_up(&mut self, peer: PeerId, now: Instant) -> Result<(), PeerError> {
        let layout = self.ids.layout();
        if layout.owner() == (peer.node, peer.shard) {
            return Err(PeerError::IsSelf(peer));
        }
        if !layout.holds(peer.node, peer.shard) {
            return Err(PeerError::OutsideLayout(peer));
        }
        let link = self.peers.entry(peer).or_insert_with(|| PeerLink::new(now));
        if !link.driver_up {
            debug!(%peer, "peer up");
            // Say hello at once: the peer learns this core is back, and from
            // the counts in the header, what was lost meanwhile.
            link.say_something();
        }
        link.driver_up = true;
        link.alive = true;
        link.last_heard = now;
        Ok(())
    }

    /// The driver can no longer reach `peer`. Frames batched for it are
    /// dropped and counted [`DropCause::NoRoute`], as is every frame for it
    /// until [`handle_peer_up`](Self::handle_peer_up); senders paused behind
    /// it resume. Its batches still arriving are taken, their frames counted
    /// `no_route`. Calls for an unknown or already-down peer do nothing.
    pub fn handle_peer_down(&mut self, peer: PeerId, now: Instant) {
        let Some(link) = self.peers.get_mut(&peer) else {
            return;
        };
        let was_usable = link.usable();
        link.driver_up = false;
        if was_usable {
            debug!(%peer, "peer down");
            self.lose_link(peer);
        }
        self.settle(now);
    }

    /// A batch arrived from a peer (one ring slot, one NATS message). Its
    /// header names the sender; it is checked whole before any record is
    /// used, and refused whole (counted in
    /// [`Stats::peer_batches_rejected`](crate::Stats::peer_batches_rejected),
    /// logged at debug level) if it is malformed, for another core, from a
    /// peer not [up](Self::handle_peer_up) or with another ID layout, a
    /// replay, or beyond the window this core allowed. Frames a sequence gap
    /// shows lost are counted [`DropCause::InTransit`]. The frames it
    /// carries are queued to their destinations here like a client's.
    ///
    /// Then drive the router as after any `handle_*` call.
    pub fn handle_peer_input(&mut self, bytes: &[u8], now: Instant) {
        match self.take_batch(bytes, now) {
            Ok(()) => self.stats.peer_batches_received += 1,
            Err(refusal) => {
                self.stats.peer_batches_rejected += 1;
                debug!(%refusal, len = bytes.len(), "peer batch refused");
            }
        }
        self.settle(now);
    }

    /// Hands the driver the next batch for each peer that has one, through
    /// `send(peer, batch)`, which says whether the link took it; a batch not
    /// taken stays, grows with what follows, and is offered again next time.
    /// One batch per peer per call, or several when what is batched exceeds
    /// [`Config::max_batch_bytes`], until the link refuses one. [`drive`](Self::drive) calls it
    /// with [`Io::send_to_peer`](crate::Io::send_to_peer).
    pub(crate) fn transmit_to_peers(
        &mut self,
        now: Instant,
        mut send: impl FnMut(PeerId, &mut Vec<u8>) -> bool,
    ) {
        if self.peers.is_empty() {
            return;
        }
        let layout = *self.ids.layout();
        let (node, shard) = layout.owner();
        let me = PeerId::new(node, shard);
        let epoch = self.config.incarnation;
        let draining = self.is_shutting_down();
        let window = self.config.peer_window;
        let max_batch = self.config.max_batch_bytes;
        for (&peer, link) in self.peers.iter_mut() {
            if !link.wants_batch(window) {
                continue;
            }
            loop {
                let batch = link.build(me, peer, layout.bits(), epoch, draining, max_batch);
                if !send(peer, batch) {
                    break;
                }
                let carried = link.taken(now);
                self.stats.forwarded.frames += carried.frames;
                self.stats.forwarded.bytes += carried.bytes;
                self.stats.peer_batches_sent += 1;
                trace!(%peer, frames = carried.frames, "batch sent");
                if !link.has_batched() {
                    break; // The rest of a cut batch goes at once.
                }
            }
        }
    }

    /// `peer`'s link, for operators and tests; `None` if it was never up.
    pub fn peer_info(&self, peer: PeerId) -> Option<PeerInfo> {
        self.peers.get(&peer).map(PeerLink::info)
    }

    /// Every peer that was ever [up](Self::handle_peer_up).
    pub fn peers(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.peers.keys().copied()
    }

    /// Routes a frame from local sender `from` to `peer`, which owns its
    /// destination: batches it, drops and counts it, or hands it back to be
    /// held while the destination is full or the window is.
    pub(super) fn forward(
        &mut self,
        from: u32,
        peer: PeerId,
        frame: Frame<'_>,
    ) -> Result<(), HeldFrame> {
        let dest = frame.dest;
        let len = frame.payload.len();
        let policy = self.config.overflow_policy;
        let Some(link) = self.peers.get_mut(&peer).filter(|link| link.usable()) else {
            trace!(from, dest, %peer, "dropped: no route to owner");
            self.stats.count_drop(DropCause::NoRoute, 1, len as u64);
            return Ok(());
        };
        let held = |frame: Frame<'_>| HeldFrame {
            dest,
            payload: frame.payload.into_owned(),
        };
        if let Some(waiters) = link.remote_full.get_mut(&dest) {
            if policy == OverflowPolicy::Drop {
                self.stats
                    .count_drop(DropCause::DestinationFull, 1, len as u64);
                return Ok(());
            }
            waiters.push(from);
            return Err(held(frame));
        }
        if !link.fits(len, self.config.peer_window) {
            link.request_ack();
            if policy == OverflowPolicy::Drop {
                self.stats
                    .count_drop(DropCause::PeerCongested, 1, len as u64);
                return Ok(());
            }
            link.window_waiters.push(from);
            self.stats.peer_stalls += 1;
            return Err(held(frame));
        }
        link.push_frame(dest, frame.payload.as_slice());
        self.stats.peer_bytes_in_flight += len as u64;
        trace!(from, dest, %peer, len, "forwarded");
        Ok(())
    }

    /// Checks a batch and applies it, or says why it is refused.
    fn take_batch(&mut self, bytes: &[u8], now: Instant) -> Result<(), Refusal> {
        let batch = wire::decode(bytes, self.config.max_frame_bytes).map_err(Refusal::Malformed)?;
        let header = batch.header;
        let layout = *self.ids.layout();
        if header.layout_bits != layout.bits() {
            // Every core of a router must share one layout (section 5).
            return Err(Refusal::OtherLayout);
        }
        if (header.to.node, header.to.shard) != layout.owner() {
            return Err(Refusal::NotForUs);
        }
        let peer = header.from;
        let my_epoch = self.config.incarnation;
        let link = self.peers.get_mut(&peer).ok_or(Refusal::UnknownPeer)?;
        // The peer counts its frames from 0 relative to this incarnation if
        // its acknowledgements are for it, or if it never heard of any (it
        // counts from its own start); relative to another otherwise.
        let relative_to_me = header.ack.is_none_or(|ack| ack.epoch == my_epoch);
        let new_epoch = link.peer_epoch != Some(header.epoch);
        let restarted = new_epoch && link.peer_epoch.is_some();
        let rebase = new_epoch || (relative_to_me && !link.synced);
        let (received, last_batch_seq) = if rebase {
            // Counts relative to another incarnation of this core cannot be
            // checked for gaps: they start from wherever this batch is.
            let base = if relative_to_me {
                FrameCount::default()
            } else {
                header.before
            };
            (base, link.last_batch_seq.filter(|_| !new_epoch))
        } else {
            (link.received, link.last_batch_seq)
        };
        if last_batch_seq.is_some_and(|last| header.batch_seq <= last) {
            return Err(Refusal::Replayed);
        }
        let gap = gap_between(received, header.before).ok_or(Refusal::SequenceBackwards)?;
        // One batch never holds more than the window (and one frame over):
        // a peer that ignores flow control is refused. (Its cumulative count
        // cannot be held to the last acknowledgement: a peer that wrote off
        // frames lost with a link sends a new window's worth at once.)
        if cost(batch.frames) > peer_allowance(&self.config) as u64 {
            return Err(Refusal::OverWindow);
        }
        let end = header
            .before
            .frames
            .checked_add(batch.frames.frames)
            .zip(header.before.bytes.checked_add(batch.frames.bytes))
            .map(|(frames, bytes)| FrameCount { frames, bytes })
            .ok_or(Refusal::CountOverflow)?;
        // An acknowledgement of more than was sent is ignored rather than
        // refused: a restarted peer acknowledges in the numbering of this
        // core's counts before it learnt of the restart, until it hears the
        // new one.
        let ack = header
            .ack
            .filter(|ack| ack.epoch == my_epoch && link.check_ack(ack));
        // Accepted: from here on nothing refuses it.
        if restarted {
            debug!(%peer, "peer restarted");
            if link.usable() {
                self.lose_link(peer);
            }
            // What was in flight to its previous run is gone with it; count
            // afresh for this one.
            self.peers
                .get_mut(&peer)
                .expect("checked above")
                .restart_counts();
        }
        let link = self.peers.get_mut(&peer).expect("checked above");
        if rebase {
            link.acked_out = received;
        }
        link.peer_epoch = Some(header.epoch);
        link.synced = relative_to_me;
        let signals_lost =
            last_batch_seq.is_some_and(|last| header.batch_seq > last.saturating_add(1));
        link.last_batch_seq = Some(header.batch_seq);
        link.received = end;
        link.last_heard = now;
        let was_usable = link.usable();
        link.alive = true;
        link.draining = header.flags.contains(Flags::DRAINING);
        if header.flags.contains(Flags::ACK_REQUESTED) {
            link.ack_requested = true;
        }
        if header.flags.contains(Flags::RESET) {
            // The peer forgot what it was told is full here; it may yet get
            // a `dest_full` sent before this reset crossed it. Telling it
            // again, after that one, keeps both sides agreed: it hears
            // `dest_ready` for each once it drains.
            let still_full: Vec<u32> = link.told_full.keys().copied().collect();
            for dest in still_full {
                link.push_signal(dest, true);
            }
        }
        if signals_lost || header.flags.contains(Flags::RESET) {
            // A lost batch may have held a `dest_ready`: retry rather than
            // wait forever; a destination still full says so again.
            let released = link.release_waiters();
            self.to_resume.extend(released);
        }
        if let Some(ack) = ack {
            let link = self.peers.get_mut(&peer).expect("checked above");
            let before = link.in_flight_bytes();
            link.apply_ack(ack.received);
            self.stats.peer_bytes_in_flight -= before - link.in_flight_bytes();
            let released = std::mem::take(&mut link.window_waiters);
            self.to_resume.extend(released);
        }
        if was_usable && !self.peers[&peer].usable() {
            self.lose_link(peer);
        }
        if gap.frames > 0 || gap.bytes > 0 {
            debug!(%peer, frames = gap.frames, "frames lost in transit");
            self.stats
                .count_drop(DropCause::InTransit, gap.frames, gap.bytes);
        }
        self.apply_records(peer, &batch, now);
        Ok(())
    }

    fn apply_records(&mut self, peer: PeerId, batch: &Batch<'_>, now: Instant) {
        // Whether frames can be taken at all is the same for every record of
        // the batch: decided once, not looked up again per frame.
        let refusal = if !self.peers[&peer].driver_up {
            Some(DropCause::NoRoute)
        } else if self.is_shutting_down() {
            Some(DropCause::Shutdown)
        } else {
            None
        };
        for record in batch.records() {
            match record {
                Record::Frame { dest, payload } => {
                    self.stats.from_peers.frames += 1;
                    self.stats.from_peers.bytes += payload.len() as u64;
                    match refusal {
                        Some(cause) => self.drop_peer_frame(peer, dest, payload, cause),
                        None => self.take_peer_frame(peer, dest, payload, now),
                    }
                }
                Record::DestFull(dest) => {
                    let link = self.peers.get_mut(&peer).expect("checked by the caller");
                    if link.usable() {
                        link.remote_full.entry(dest).or_default();
                    }
                }
                Record::DestReady(dest) => {
                    let link = self.peers.get_mut(&peer).expect("checked by the caller");
                    if let Some(waiters) = link.remote_full.remove(&dest) {
                        self.to_resume.extend(waiters);
                    }
                }
            }
        }
    }

    /// Queues a frame `peer` forwarded to local destination `dest`, or drops
    /// and counts it. A frame to a full destination was already in flight
    /// when it filled, so under `pause` it is queued anyway (the window
    /// bounds the overshoot) and the peer is told to pause senders to it.
    ///
    /// The destination is looked up once: this runs for every frame that
    /// crosses between cores.
    fn take_peer_frame(&mut self, peer: PeerId, dest: u32, payload: &[u8], now: Instant) {
        let local = self.ids.layout().owner_of(dest) == Owner::Local;
        let Some(d) = self.conns.get_mut(&dest).filter(|_| local) else {
            return self.drop_peer_frame(peer, dest, payload, DropCause::UnknownDestination);
        };
        if d.closing {
            return self.drop_peer_frame(peer, dest, payload, DropCause::DestinationClosed);
        }
        let high_water = self.config.outbound_high_water;
        if d.outbound.len() > high_water {
            let hard_cap = high_water.saturating_add(
                self.peers
                    .len()
                    .saturating_mul(peer_allowance(&self.config)),
            );
            if self.config.overflow_policy == OverflowPolicy::Drop || d.outbound.len() > hard_cap {
                return self.drop_peer_frame(peer, dest, payload, DropCause::DestinationFull);
            }
        }
        let was_empty = enqueue(
            d,
            dest,
            Payload::Borrowed(payload),
            &mut self.ready,
            &mut self.stats,
            &mut self.budget,
            now,
        );
        if was_empty {
            self.deadlines.reschedule(dest, d, &self.config);
        }
        if self.config.overflow_policy == OverflowPolicy::Pause && d.outbound.len() > high_water {
            self.tell_peer_full(peer, dest);
        }
    }

    /// Counts a frame from `peer` that this core will not deliver: the
    /// owner's count, which the sender's side never sees (section 5).
    fn drop_peer_frame(&mut self, peer: PeerId, dest: u32, payload: &[u8], cause: DropCause) {
        trace!(%peer, dest, cause = cause.name(), "dropped frame from peer");
        self.stats.count_drop(cause, 1, payload.len() as u64);
    }

    /// Tells `peer` that `dest` is full, unless it was told within the last
    /// window (a signal that went missing is repeated a window later).
    fn tell_peer_full(&mut self, peer: PeerId, dest: u32) {
        let window = self.config.peer_window as u64;
        let link = self.peers.get_mut(&peer).expect("checked by the caller");
        let received = cost(link.received);
        let due = link
            .told_full
            .get(&dest)
            .is_none_or(|&told_at| received > told_at.saturating_add(window));
        if due {
            link.told_full.insert(dest, received);
            link.push_signal(dest, true);
            self.conns.get_mut(&dest).expect("live").peers_told_full = true;
        }
    }

    /// `peer` became unreachable: its batched frames are dropped as
    /// `no_route`, what was in flight is written off (a gap the peer will
    /// count, if it ever hears from this core again), and every sender
    /// waiting on it resumes.
    fn lose_link(&mut self, peer: PeerId) {
        let link = self.peers.get_mut(&peer).expect("caller checked");
        let in_flight = link.in_flight_bytes();
        let (discarded, released) = link.lose();
        self.stats.peer_bytes_in_flight -= in_flight;
        self.stats
            .count_drop(DropCause::NoRoute, discarded.frames, discarded.bytes);
        self.to_resume.extend(released);
    }

    /// Declares silent peers unreachable and schedules heartbeats.
    pub(super) fn expire_peer_timers(&mut self, now: Instant) {
        let timeout = self.config.peer_timeout;
        let mut silent = Vec::new();
        for (&peer, link) in self.peers.iter_mut() {
            let was_usable = link.usable();
            if link.check_timers(now, timeout) && was_usable {
                silent.push(peer);
            }
        }
        for peer in silent {
            warn!(%peer, "peer silent for peer_timeout: unreachable");
            self.stats.peer_timeouts += 1;
            self.lose_link(peer);
        }
    }

    /// The earliest peer heartbeat or silence deadline.
    pub(super) fn peer_deadline(&self) -> Option<Instant> {
        if self.peers.is_empty() {
            return None; // A lone router's `poll_timeout` pays nothing here.
        }
        let timeout = self.config.peer_timeout;
        self.peers
            .values()
            .filter_map(|link| link.next_deadline(timeout))
            .min()
    }

    /// Whether frames are batched for a peer the driver can reach and not
    /// yet handed over.
    pub(super) fn peer_frames_pending(&self) -> bool {
        self.peers
            .values()
            .any(|link| link.driver_up && link.pending().frames > 0)
    }

    /// Drops every batched frame not yet handed over, counted as `cause`.
    pub(super) fn discard_peer_batches(&mut self, cause: DropCause) {
        let peers: Vec<PeerId> = self.peers.keys().copied().collect();
        for peer in peers {
            let link = self.peers.get_mut(&peer).expect("listed above");
            let pending = link.pending();
            if pending.frames == 0 {
                continue;
            }
            self.stats.peer_bytes_in_flight -= link.in_flight_bytes();
            link.lose();
            self.stats.count_drop(cause, pending.frames, pending.bytes);
        }
    }

    /// Shutdown began: every peer hears at once that this core takes no more
    /// frames, rather than at its next heartbeat.
    pub(super) fn announce_draining(&mut self) {
        for link in self.peers.values_mut() {
            link.say_something();
        }
    }
}

/// Frames between `received` and a batch's `before`, lost in transit; `None`
/// if `before` goes backwards, which no honest peer sends.
fn gap_between(received: FrameCount, before: FrameCount) -> Option<FrameCount> {
    (received.frames <= before.frames && received.bytes <= before.bytes).then(|| FrameCount {
        frames: before.frames - received.frames,
        bytes: before.bytes - received.bytes,
    })
}

/// Local destination `dest` drained below its low-water mark, or is closing:
/// every peer told it was full hears that it is ready. The caller has cleared
/// the destination's `peers_told_full`.
pub(super) fn tell_ready(peers: &mut FxHashMap<PeerId, PeerLink>, dest: u32) {
    for link in peers.values_mut() {
        if link.told_full.remove(&dest).is_some() && link.driver_up {
            link.push_signal(dest, false);
        }
    }
}

/// What one peer may have in flight to this core, in flow-control cost: its
/// window, and one more frame for a frame larger than the window.
pub(super) fn peer_allowance(config: &Config) -> usize {
    config
        .peer_window
        .saturating_add(config.max_frame_bytes + 1 + wire::FRAME_OVERHEAD)
}
