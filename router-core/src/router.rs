//! The routing state machine.

mod peers;

use std::collections::VecDeque;
use std::io;
use std::mem;
use std::time::Instant;

use rustc_hash::FxHashMap;
use tracing::{debug, trace, warn};

use crate::accept::{AcceptBackoff, AcceptFailure};
use crate::budget::{Footprint, MemoryBudget};
use crate::config::{Config, ConfigError, OverflowPolicy};
use crate::conn::{Conn, DeadlineKind, HeldFrame};
use crate::event::{AcceptError, ConnHandle, ConnInfo, Event, Transmit};
use crate::frame::{Frame, HEADER_LEN, Payload};
use crate::ids::{IdAllocator, Owner};
use crate::log_limit::LogLimit;
use crate::peer::{PeerId, PeerLink};
use crate::stats::{CloseCause, DropCause, Stats};
use crate::timers::DeadlineQueue;

/// A message router: every connection's state and buffers, and every routing
/// decision, with no IO and no clock.
///
/// The driver feeds it what happened (`handle_*`, each with the current time)
/// and then lets it do what it must through the driver's sockets:
/// [`drive`](Self::drive), which returns when to drive it again. Calls for a
/// handle the router has closed are ignored, so a driver never races the
/// router's own decisions.
#[derive(Debug)]
pub struct Router {
    config: Config,
    conns: FxHashMap<u32, Conn>,
    ids: IdAllocator,
    deadlines: DeadlineQueue,
    /// Connections with bytes to write and a socket last seen writable,
    /// served round-robin so one busy connection cannot starve the others.
    ready: VecDeque<u32>,
    events: VecDeque<Event>,
    /// Paused senders whose destination drained or closed: they are resumed
    /// before the current `handle_*` call returns, iteratively rather than by
    /// recursion, since resuming one can close another and release its waiters.
    to_resume: VecDeque<u32>,
    stats: Stats,
    accept_backoff: AcceptBackoff,
    /// Rate limits of the warnings a client can trigger, one per kind.
    violation_log: LogLimit,
    write_stall_log: LogLimit,
    budget_log: LogLimit,
    /// The total all connections hold, against `max_buffered_bytes`.
    budget: MemoryBudget,
    /// Set by [`shutdown`](Self::shutdown): when to give up flushing.
    drain_deadline: Option<Instant>,
    /// The other cores this one forwards to; empty for a lone router, which
    /// then pays nothing for them.
    peers: FxHashMap<PeerId, PeerLink>,
}

impl Router {
    /// A router with no connections, after checking `config`.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Router {
            ids: IdAllocator::new(config.id_layout, config.incarnation),
            budget: MemoryBudget::new(config.max_buffered_bytes),
            config,
            conns: FxHashMap::default(),
            deadlines: DeadlineQueue::default(),
            ready: VecDeque::new(),
            events: VecDeque::new(),
            to_resume: VecDeque::new(),
            stats: Stats::default(),
            accept_backoff: AcceptBackoff::default(),
            violation_log: LogLimit::default(),
            write_stall_log: LogLimit::default(),
            budget_log: LogLimit::default(),
            drain_deadline: None,
            peers: FxHashMap::default(),
        })
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Its counters. Reading them costs nothing: they are plain fields kept up
    /// to date as the router works.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// A live connection's queue and pause state, or `None` once it is closed.
    pub fn connection_info(&self, conn: ConnHandle) -> Option<ConnInfo> {
        self.conns.get(&conn.0).map(|c| ConnInfo {
            queued_bytes: c.outbound.len(),
            buffered_bytes: c.decoder.buffered_len(),
            heap_bytes: c.current_footprint().heap,
            paused: c.held.is_some(),
            closing: c.closing,
        })
    }

    /// Whether the driver should read from `conn` now. False while it is paused
    /// behind a full destination, after its EOF, during shutdown, and once closed.
    /// Check it before each read, so that at most one read's worth of bytes
    /// arrives after a pause.
    pub fn wants_read(&self, conn: ConnHandle) -> bool {
        self.conns
            .get(&conn.0)
            .is_some_and(|c| c.held.is_none() && !c.closing)
    }

    /// Whether the driver should accept connections: false while accepting is
    /// paused after the listener failed ([`handle_accept_error`]), until the
    /// [`drive`] at the instant [`poll_timeout`] names for it, and for good
    /// once shutdown begins (the driver is told to
    /// [`stop_listening`](crate::Io::stop_listening)). Check it before each
    /// `accept`, and leave the listener out of the driver's wait while it is
    /// false, or a readable listener keeps waking the loop for nothing.
    ///
    /// [`handle_accept_error`]: Self::handle_accept_error
    /// [`drive`]: Self::drive
    /// [`poll_timeout`]: Self::poll_timeout
    pub fn wants_accept(&self) -> bool {
        !self.is_shutting_down() && self.accept_backoff.paused_until().is_none()
    }

    /// Whether [`shutdown`](Self::shutdown) has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.drain_deadline.is_some()
    }

    /// Whether shutdown has finished: every connection is closed, and every
    /// frame batched for a peer handed to the driver.
    pub fn is_drained(&self) -> bool {
        self.is_shutting_down() && self.conns.is_empty() && !self.peer_frames_pending()
    }

    /// A new connection was accepted. Returns its handle, whose ID is already
    /// queued as the connection's first 4 bytes, or a refusal, after which the
    /// driver closes the socket without writing to it.
    ///
    /// Call when the listener yields a connection; then [`drive`](Self::drive)
    /// sends the ID. Connections accepted after shutdown began (accepted
    /// before the driver closed its listener) are refused and counted.
    pub fn handle_accept(&mut self, now: Instant) -> Result<ConnHandle, AcceptError> {
        if self.is_shutting_down() {
            self.stats.connections_refused += 1;
            return Err(AcceptError::ShuttingDown);
        }
        if self.conns.len() >= self.config.max_connections {
            self.stats.connections_refused += 1;
            debug!(
                limit = self.config.max_connections,
                "connection refused: limit reached"
            );
            return Err(AcceptError::ConnectionLimit(self.config.max_connections));
        }
        let conns = &self.conns;
        let id = self.ids.allocate(|id| conns.contains_key(&id));
        let conn = Conn::new(id, now);
        self.stats.bytes_queued += conn.outbound.len() as u64;
        self.conns.insert(id, conn);
        self.stats.connections_accepted += 1;
        self.stats.connections_open += 1;
        // Accounted at once: accepting is not followed by `settle`.
        self.account(id);
        self.stats.bytes_buffered = self.budget.held() as u64;
        self.mark_ready(id);
        self.reschedule(id);
        debug!(conn = id, "accepted");
        Ok(ConnHandle(id))
    }

    /// The listener's `accept` failed with `error`. Call it for every error
    /// `accept` returns; then check [`wants_accept`](Self::wants_accept)
    /// before accepting again.
    ///
    /// - `WouldBlock` (no connection waiting) and `Interrupted` are no
    ///   failure, and change nothing.
    /// - A failure of one connection before it was accepted (its client gave
    ///   up: `ConnectionAborted`, `ConnectionReset`; or, on Linux, a network
    ///   error pending on it) is counted in [`Stats::accept_errors`] and
    ///   skipped: the next connection may be accepted at once.
    /// - Any other failure is the listener's (`EMFILE`, out of file
    ///   descriptors, above all) and would recur at once: accepting pauses
    ///   for [`Config::accept_pause`], which [`poll_timeout`](Self::poll_timeout)
    ///   includes so that the driver wakes to resume. It is counted in
    ///   [`Stats::accept_errors`] and [`Stats::accept_pauses`], and logged as
    ///   a warning at most once per 10 s, with the number of failures since
    ///   the last one.
    ///
    /// It leaves nothing for [`drive`](Self::drive) to do but the timer.
    pub fn handle_accept_error(&mut self, error: &io::Error, now: Instant) {
        match AcceptFailure::of(error) {
            AcceptFailure::None => {}
            AcceptFailure::OneConnection => {
                self.stats.accept_errors += 1;
                debug!(%error, "accept failed: skipping that connection");
            }
            AcceptFailure::Listener => {
                self.stats.accept_errors += 1;
                self.stats.accept_pauses += 1;
                self.accept_backoff
                    .pause(error, self.config.accept_pause, now);
            }
        }
    }

    /// Bytes were read from `conn`. Every frame they complete is routed at once;
    /// a partial frame at the end is kept for the next call. Any fragmentation is
    /// fine, down to one byte per call.
    ///
    /// Bytes given while the connection is paused are buffered, not lost, which
    /// is why a driver checks [`wants_read`](Self::wants_read) before each
    /// read: the buffer then holds at most the read that was already in
    /// flight. Input after EOF or for a closed handle is ignored.
    pub fn handle_input(&mut self, conn: ConnHandle, input: &[u8], now: Instant) {
        let id = conn.0;
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if c.closing || input.is_empty() {
            return;
        }
        c.last_input = now;
        if c.held.is_some() {
            c.decoder.stash(input);
            let footprint = c.current_footprint();
            self.budget.recount(id, &mut c.footprint, footprint);
        } else {
            self.decode_and_route(id, input, now);
        }
        self.reschedule(id);
        self.settle(now);
    }

    /// `conn` reached EOF: the client will send nothing more. The frames it sent
    /// whole are delivered (those held behind a full destination as soon as it
    /// drains), a trailing partial frame is discarded, and the connection closes
    /// once what is queued to it is written, or after `write_stall_timeout` if it
    /// is not. Frames sent to it from now on are dropped, and senders paused
    /// behind its full queue resume at once, their held frame to it dropped.
    pub fn handle_eof(&mut self, conn: ConnHandle, now: Instant) {
        let id = conn.0;
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if c.closing {
            return;
        }
        c.closing = true;
        self.budget.touch(id);
        // It takes no new frame from now on, so the frames of senders held
        // behind its full queue can only be dropped: release those senders now
        // rather than when it has flushed (up to `write_stall_timeout` later).
        self.to_resume.extend(c.waiters.drain(..));
        if mem::take(&mut c.peers_told_full) {
            peers::tell_ready(&mut self.peers, id);
        }
        debug!(conn = id, "eof");
        if c.held.is_none() {
            self.finish_closing(id);
        }
        self.reschedule(id);
        self.settle(now);
    }

    /// `conn` failed: reset by the peer, or a read or write error. It is closed
    /// at once and what was queued to it is dropped and counted.
    pub fn handle_reset(&mut self, conn: ConnHandle, now: Instant) {
        self.close(conn.0, CloseCause::Reset);
        self.settle(now);
    }

    /// The driver wrote the first `written` bytes (at least 1) of what
    /// [`poll_transmit`](Self::poll_transmit) offered for `conn`. A partial
    /// write is normal: the rest stays queued.
    pub(crate) fn handle_written(&mut self, conn: ConnHandle, written: usize, now: Instant) {
        let id = conn.0;
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        debug_assert!(written <= c.outbound.len(), "wrote more than was offered");
        let written = written.min(c.outbound.len());
        if written == 0 {
            return;
        }
        c.outbound.consume(written);
        c.last_write_progress = now;
        let footprint = c.current_footprint();
        self.budget.recount(id, &mut c.footprint, footprint);
        self.stats.bytes_written += written as u64;
        self.stats.bytes_queued -= written as u64;
        if c.outbound.len() < self.config.outbound_low_water {
            self.to_resume.extend(c.waiters.drain(..));
            if mem::take(&mut c.peers_told_full) {
                peers::tell_ready(&mut self.peers, id);
            }
        }
        if c.closing && c.outbound.is_empty() {
            self.close_if_flushed(id);
        } else {
            self.mark_ready(id);
            self.reschedule(id);
        }
        self.settle(now);
    }

    /// A write to `conn` returned `WouldBlock`: the router stops offering it in
    /// `poll_transmit` until [`handle_writable`](Self::handle_writable).
    pub(crate) fn handle_write_blocked(&mut self, conn: ConnHandle) {
        if let Some(c) = self.conns.get_mut(&conn.0) {
            c.writable = false;
        }
    }

    /// `conn`'s socket became writable again (a readiness event after
    /// `WouldBlock`). Spurious calls are harmless.
    pub fn handle_writable(&mut self, conn: ConnHandle) {
        if let Some(c) = self.conns.get_mut(&conn.0) {
            c.writable = true;
            self.mark_ready(conn.0);
        }
    }

    /// Time passed: closes slow consumers and idle connections that are due,
    /// everything left once a shutdown's `drain_timeout` expires, and resumes
    /// accepting once an accept pause is over. [`drive`](Self::drive) calls it
    /// when [`poll_timeout`](Self::poll_timeout)'s instant is reached, so a
    /// driver need not; calling early or twice is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        // Resuming senders (in `settle`) can set deadlines that are already
        // due, so run until none is left rather than leave them for a wake-up.
        while self.deadlines.first().is_some_and(|(next, _)| next <= now) {
            while let Some((id, kind)) =
                self.deadlines
                    .pop_expired(&mut self.conns, &self.config, now)
            {
                self.expire(id, kind, now);
            }
            self.settle(now);
        }
        self.expire_peer_timers(now);
        if self.drain_deadline.is_some_and(|deadline| deadline <= now) {
            let ids: Vec<u32> = self.conns.keys().copied().collect();
            if !ids.is_empty() {
                warn!(
                    connections = ids.len(),
                    "drain_timeout expired: closing unflushed connections"
                );
            }
            for id in ids {
                self.close(id, CloseCause::Shutdown);
            }
            self.discard_peer_batches(DropCause::Shutdown);
        }
        self.accept_backoff.resume_if_due(now);
        self.settle(now);
    }

    /// Closes `id`, whose `kind` of deadline has passed at `now`.
    fn expire(&mut self, id: u32, kind: DeadlineKind, now: Instant) {
        match kind {
            DeadlineKind::WriteStall => {
                if let Some(suppressed) = self.write_stall_log.allow(now) {
                    let queued = self.conns.get(&id).map_or(0, |c| c.outbound.len());
                    warn!(
                        conn = id,
                        queued,
                        suppressed,
                        "closing slow consumer: no bytes accepted for write_stall_timeout"
                    );
                }
                self.close(id, CloseCause::WriteStall);
            }
            DeadlineKind::Idle => {
                debug!(conn = id, "closing idle connection");
                self.close(id, CloseCause::Idle);
            }
        }
    }

    /// Begins a graceful shutdown: refuses new connections, stops reading (frames
    /// not yet routed are dropped and counted), and closes each connection once
    /// what is queued to it is written, or all of them after `drain_timeout`.
    /// The driver is told to [`stop_listening`](crate::Io::stop_listening),
    /// and [`is_drained`](Self::is_drained) turns true when no connection is
    /// left. Calling it again does nothing.
    pub fn shutdown(&mut self, now: Instant) {
        if self.is_shutting_down() {
            return;
        }
        debug!(connections = self.conns.len(), "shutting down");
        self.drain_deadline = Some(now + self.config.drain_timeout);
        self.events.push_back(Event::StopListening);
        self.to_resume.clear();
        let ids: Vec<u32> = self.conns.keys().copied().collect();
        for id in ids {
            let c = self.conns.get_mut(&id).expect("listed above");
            c.closing = true;
            c.waiters.clear();
            self.budget.touch(id);
            if let Some(held) = c.held.take() {
                self.stats.senders_paused -= 1;
                self.stats
                    .count_drop(DropCause::Shutdown, 1, held.payload.len() as u64);
            }
            let discarded = c.decoder.clear();
            self.count_discarded(discarded, DropCause::Shutdown);
            self.close_if_flushed(id);
        }
        self.announce_draining();
        self.settle(now);
    }

    /// The next thing the driver must do, if any: resume reading, close a
    /// socket, or close the listener. [`drive`](Self::drive) drains it.
    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// A connection with bytes to write, if any, for [`drive`](Self::drive)
    /// to write with one vectored write. Connections come round-robin; one
    /// with bytes left after a partial write comes back later.
    pub(crate) fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        while let Some(id) = self.ready.pop_front() {
            let Some(c) = self.conns.get_mut(&id) else {
                continue;
            };
            c.in_ready_queue = false;
            if c.writable && !c.outbound.is_empty() {
                let queue = &self.conns[&id].outbound;
                return Some(Transmit {
                    conn: ConnHandle(id),
                    queue,
                });
            }
        }
        None
    }

    /// When the router next needs [`handle_timeout`](Self::handle_timeout)
    /// (which [`drive`](Self::drive) calls once it is due), if ever; `drive`
    /// returns it too. It is exact: the instant a connection's write stall or
    /// idle timeout, or the shutdown's `drain_timeout`, falls due, or an
    /// accept pause ends, and `None` while nothing can.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let drain = self.drain_deadline.filter(|_| !self.conns.is_empty());
        let next = self.deadlines.first().map(|(at, _)| at);
        [
            next,
            drain,
            self.accept_backoff.paused_until(),
            self.peer_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Decodes `input` (after anything `id` had buffered) and routes each frame,
    /// until the input is used up or a full destination pauses the sender.
    /// Recounts what the sender holds in the memory budget.
    fn decode_and_route(&mut self, id: u32, input: &[u8], now: Instant) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        // Taken out so that routing may borrow any connection, the sender included.
        let mut decoder = mem::take(&mut c.decoder);
        let mut input = input;
        let max_payload = self.config.max_frame_bytes;
        loop {
            match decoder.decode(&mut input, max_payload) {
                Ok(Some(frame)) => {
                    self.stats.received.frames += 1;
                    self.stats.received.bytes += frame.payload.len() as u64;
                    if let Err(held) = self.route(id, frame, now) {
                        decoder.stash(input);
                        let c = self.conns.get_mut(&id).expect("routing closes nothing");
                        c.decoder = decoder;
                        c.held = Some(held);
                        let footprint = c.current_footprint();
                        self.budget.recount(id, &mut c.footprint, footprint);
                        self.stats.senders_paused += 1;
                        self.stats.sender_pauses += 1;
                        trace!(conn = id, "paused");
                        return;
                    }
                }
                Ok(None) => break,
                Err(too_large) => {
                    if let Some(suppressed) = self.violation_log.allow(now) {
                        warn!(
                            conn = id,
                            error = %too_large,
                            suppressed,
                            "protocol violation: closing sender"
                        );
                    }
                    // Counted like every other drop: payload bytes, no header.
                    let payload_read = too_large.received - HEADER_LEN;
                    self.stats
                        .count_drop(DropCause::Oversized, 1, payload_read as u64);
                    // The rest of the buffer belongs to the oversized frame.
                    decoder.clear();
                    self.close(id, CloseCause::ProtocolViolation);
                    return;
                }
            }
        }
        if let Some(c) = self.conns.get_mut(&id) {
            c.decoder = decoder;
            let footprint = c.current_footprint();
            self.budget.recount(id, &mut c.footprint, footprint);
        }
    }

    /// Routes one frame from `from`: queues it to its destination, or drops and
    /// counts it, or hands it back to be held when the destination is full.
    fn route(&mut self, from: u32, frame: Frame<'_>, now: Instant) -> Result<(), HeldFrame> {
        let dest = frame.dest;
        let len = frame.payload.len() as u64;
        if let Owner::Remote { node, shard } = self.ids.layout().owner_of(dest) {
            // The one place a sharded or clustered router forwards to a peer.
            return self.forward(from, PeerId { node, shard }, frame);
        }
        let Some(d) = self.conns.get_mut(&dest) else {
            trace!(from, dest, "dropped: unknown destination");
            self.stats.count_drop(DropCause::UnknownDestination, 1, len);
            return Ok(());
        };
        if d.closing {
            trace!(from, dest, "dropped: destination closing");
            self.stats.count_drop(DropCause::DestinationClosed, 1, len);
            return Ok(());
        }
        // Over the memory budget, only a destination with nothing queued
        // takes more: it is writing what it gets, and keeps its pairs served.
        let over_budget = self.budget.is_over() && !d.outbound.is_empty();
        if d.outbound.len() > self.config.outbound_high_water || over_budget {
            match self.config.overflow_policy {
                OverflowPolicy::Drop => {
                    trace!(from, dest, over_budget, "dropped: destination full");
                    let cause = if over_budget {
                        DropCause::MemoryBudget
                    } else {
                        DropCause::DestinationFull
                    };
                    self.stats.count_drop(cause, 1, len);
                    return Ok(());
                }
                OverflowPolicy::Pause => {
                    if over_budget {
                        self.stats.budget_pauses += 1;
                    }
                    d.waiters.push(from);
                    return Err(HeldFrame {
                        dest,
                        payload: frame.payload.into_owned(),
                    });
                }
            }
        }
        let was_empty = enqueue(
            d,
            dest,
            frame.payload,
            &mut self.ready,
            &mut self.stats,
            &mut self.budget,
            now,
        );
        if was_empty {
            self.reschedule(dest);
        }
        trace!(from, dest, len, "routed");
        Ok(())
    }

    /// Resumes the senders in `to_resume` and makes the earliest deadline
    /// exact. Every public `handle_*` that changes state ends here, so no work
    /// is left half-done between calls.
    fn settle(&mut self, now: Instant) {
        loop {
            while let Some(id) = self.to_resume.pop_front() {
                self.resume(id, now);
            }
            self.account_touched();
            self.enforce_budget(now);
            // Shedding a connection releases the senders waiting on it.
            if self.to_resume.is_empty() {
                break;
            }
        }
        self.stats.bytes_buffered = self.budget.held() as u64;
        self.deadlines.discard_stale(&mut self.conns, &self.config);
    }

    /// Retries `id`'s held frame, then routes what it buffered while paused.
    fn resume(&mut self, id: u32, now: Instant) {
        let Some(held) = self.conns.get_mut(&id).and_then(|c| c.held.take()) else {
            return; // Closed meanwhile, or listed twice.
        };
        self.budget.touch(id);
        // A remote destination's fate is its owner's, or the link's, to decide.
        let remote = PeerId::owner_of(self.ids.layout(), held.dest).is_some();
        let dest_open = remote || self.conns.get(&held.dest).is_some_and(|d| !d.closing);
        if !dest_open {
            self.stats
                .count_drop(DropCause::DestinationClosed, 1, held.payload.len() as u64);
        } else {
            let frame = Frame {
                dest: held.dest,
                payload: Payload::Owned(held.payload),
            };
            if let Err(again) = self.route(id, frame, now) {
                // Refilled by others before this sender's turn: wait again.
                self.conns.get_mut(&id).expect("still open").held = Some(again);
                return;
            }
        }
        self.stats.senders_paused -= 1;
        self.decode_and_route(id, &[], now);
        let Some(c) = self.conns.get_mut(&id) else {
            return; // Its buffered bytes broke the protocol.
        };
        if c.held.is_some() {
            // Paused again by the frames it buffered while paused: the
            // driver, which never saw it resume, goes on not reading it.
            return;
        }
        // Idle time counts from now: the client sent what the router held, and
        // while paused it could not be read. Otherwise a sender held for longer
        // than `idle_timeout` would be closed as idle the moment it resumed.
        c.last_input = now;
        trace!(conn = id, "resumed");
        if c.closing {
            self.finish_closing(id);
        } else {
            self.events.push_back(Event::ResumeReading(ConnHandle(id)));
        }
        self.reschedule(id);
    }

    /// After EOF, once nothing is held: drops the trailing partial frame and
    /// closes the connection if nothing is left to write.
    fn finish_closing(&mut self, id: u32) {
        let c = self.conns.get_mut(&id).expect("caller checked");
        let discarded = c.decoder.clear();
        self.count_discarded(discarded, DropCause::SenderClosed);
        self.close_if_flushed(id);
    }

    fn close_if_flushed(&mut self, id: u32) {
        let flushed = self
            .conns
            .get(&id)
            .is_some_and(|c| c.closing && c.held.is_none() && c.outbound.is_empty());
        if flushed {
            let cause = if self.is_shutting_down() {
                CloseCause::Shutdown
            } else if self.conns[&id].shed {
                CloseCause::MemoryBudget
            } else {
                CloseCause::Eof
            };
            self.close(id, cause);
        }
    }

    /// Closes `id` now: frees its buffers (counting what they held), releases
    /// the senders waiting on it, and tells the driver.
    fn close(&mut self, id: u32, cause: CloseCause) {
        let Some(mut c) = self.conns.remove(&id) else {
            return;
        };
        let lost_as = if cause == CloseCause::Shutdown {
            DropCause::Shutdown
        } else {
            DropCause::DestinationClosed
        };
        self.stats.bytes_queued -= c.outbound.len() as u64;
        let (frames, bytes) = c.outbound.clear();
        self.stats.count_drop(lost_as, frames, bytes);
        let unrouted_as = if cause == CloseCause::Shutdown {
            DropCause::Shutdown
        } else {
            DropCause::SenderClosed
        };
        if let Some(held) = c.held.take() {
            self.stats.senders_paused -= 1;
            self.stats
                .count_drop(unrouted_as, 1, held.payload.len() as u64);
        }
        self.count_discarded(c.decoder.clear(), unrouted_as);
        self.budget
            .recount(id, &mut c.footprint, Footprint::default());
        self.to_resume.extend(c.waiters.drain(..));
        if mem::take(&mut c.peers_told_full) {
            peers::tell_ready(&mut self.peers, id);
        }
        self.stats.count_close(cause);
        self.events.push_back(Event::Close(ConnHandle(id)));
        debug!(conn = id, cause = cause.name(), "closed");
        if self.is_drained() {
            debug!("drained");
        }
    }

    fn count_discarded(&mut self, discarded: crate::frame::Discarded, cause: DropCause) {
        self.stats.received.frames += discarded.whole_frames;
        self.stats.received.bytes += discarded.whole_bytes;
        self.stats
            .count_drop(cause, discarded.whole_frames, discarded.whole_bytes);
        if let Some(partial) = discarded.partial_bytes {
            self.stats.count_drop(DropCause::Truncated, 1, partial);
        }
    }

    /// Brings the memory budget up to date with every connection touched
    /// since the last call: those whose buffers changed away from the paths
    /// that count them on the spot (reading, routing, writing).
    fn account_touched(&mut self) {
        while let Some(id) = self.budget.next_touched() {
            self.account(id);
        }
    }

    /// Counts what `id` holds now in the memory budget. A closed connection
    /// is skipped: `close` took it off the books.
    fn account(&mut self, id: u32) {
        if let Some(c) = self.conns.get_mut(&id) {
            let footprint = c.current_footprint();
            self.budget.recount(id, &mut c.footprint, footprint);
        }
    }

    /// While the router holds more than `max_buffered_bytes`, discards the
    /// largest unfinished frame and closes its sender (once what is queued
    /// to it is written: nothing accepted for delivery is lost). What is left
    /// over the bound is whole frames; `route` keeps those from growing.
    fn enforce_budget(&mut self, now: Instant) {
        while self.budget.is_over() {
            let Some(id) = self.budget.largest_unfinished() else {
                return;
            };
            let c = self
                .conns
                .get_mut(&id)
                .expect("the budget lists open connections");
            if let Some(suppressed) = self.budget_log.allow(now) {
                warn!(
                    conn = id,
                    unfinished = c.decoder.buffered_len(),
                    held = self.budget.held(),
                    limit = self.config.max_buffered_bytes,
                    suppressed,
                    "over max_buffered_bytes: closing the sender of the largest unfinished frame"
                );
            }
            c.closing = true;
            c.shed = true;
            self.to_resume.extend(c.waiters.drain(..));
            self.finish_closing(id);
            self.account(id);
            self.reschedule(id);
        }
    }

    fn mark_ready(&mut self, id: u32) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if c.writable && !c.in_ready_queue && !c.outbound.is_empty() {
            c.in_ready_queue = true;
            self.ready.push_back(id);
        }
    }

    /// Makes sure the deadline queue will wake `id` no later than its deadline.
    fn reschedule(&mut self, id: u32) {
        if let Some(c) = self.conns.get_mut(&id) {
            self.deadlines.reschedule(id, c, &self.config);
        }
    }
}

/// Queues `payload` to destination `d` (ID `dest`), accounts its memory in
/// the budget, and lists it ready to write. Returns whether its queue was
/// empty, in which case its write-stall clock starts now and the caller
/// reschedules it. Inlined: it is the routing step's hot path, shared by
/// frames from clients and from peers.
#[inline]
fn enqueue(
    d: &mut Conn,
    dest: u32,
    payload: Payload<'_>,
    ready: &mut VecDeque<u32>,
    stats: &mut Stats,
    budget: &mut MemoryBudget,
    now: Instant,
) -> bool {
    let len = payload.len() as u64;
    let was_empty = d.outbound.is_empty();
    match payload {
        Payload::Borrowed(bytes) => d.outbound.push_slice(bytes),
        Payload::Owned(bytes) => d.outbound.push_bytes(bytes),
    }
    let footprint = d.current_footprint();
    budget.recount(dest, &mut d.footprint, footprint);
    if d.writable && !d.in_ready_queue {
        d.in_ready_queue = true;
        ready.push_back(dest);
    }
    stats.routed.frames += 1;
    stats.routed.bytes += len;
    stats.bytes_queued += len;
    if was_empty {
        d.last_write_progress = now;
    }
    was_empty
}
