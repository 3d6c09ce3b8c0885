//! The loop: readiness in, router calls, bytes out.
//!
//! Each turn waits in the poller (no longer than the router's next deadline),
//! notes which sockets became readable or writable, accepts, reads, and after
//! every call into the router drains its events and transmits, as
//! `router-core` requires. Sockets are registered once, edge-triggered, for
//! reading and writing; the router's `wants_read` and `handle_write_blocked`
//! decide what is actually read and written.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mio::event::Event as Readiness;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use router_core::{ConnHandle, Event, Router, Stats};
use rustc_hash::FxHashMap;
use tracing::{debug, warn};

use crate::send::send_vectored;
use crate::stats_observer::StatsObserver;

/// The listener's token, above every client ID so that the two never meet.
pub(crate) const LISTENER: Token = Token(usize::MAX);
/// The shutdown waker's token, likewise above every client ID.
pub(crate) const WAKER: Token = Token(usize::MAX - 1);

// A connection's token is its client's ID, a `u32`, so the listener and waker
// tokens are free only where `usize` is wider.
const _: () = assert!(usize::BITS > u32::BITS, "driver-mio needs a 64-bit target");

/// One read buffer for the whole loop: the router copies what it keeps, so no
/// connection needs a buffer of its own.
const SCRATCH_BYTES: usize = 64 * 1024;

/// Reads from one connection per turn (up to 1 MiB) before the others get
/// theirs, so that a flooding client cannot starve the rest.
const READS_PER_TURN: usize = 16;

/// Connections accepted per turn, so that a connection storm cannot starve
/// the connections already open.
const ACCEPTS_PER_TURN: usize = 256;

/// Readiness events taken from the poller per turn.
const EVENTS_PER_TURN: usize = 1024;

/// Slices per vectored write; the router coalesces small frames, so a few
/// slices carry many frames.
const SLICES_PER_WRITE: usize = 64;

#[derive(Debug)]
struct Connection {
    stream: TcpStream,
    /// Kept for the close log line: once the client has reset, the socket
    /// no longer knows it.
    peer: SocketAddr,
    /// Listed in `read_queue`, so that it is listed once.
    in_read_queue: bool,
    /// The poller has reported the peer's FIN or an error: read until `0`,
    /// the error, or `WouldBlock`, since no further edge will announce them.
    read_closed: bool,
}

#[derive(Debug)]
pub(crate) struct EventLoop {
    poll: Poll,
    /// `None` once shutdown begins: closing it makes the kernel refuse new
    /// connections.
    listener: Option<TcpListener>,
    /// The listener may hold connections not yet accepted. Edge-triggered
    /// readiness does not repeat, so this stays set until `accept` reports
    /// `WouldBlock`, across turns cut short by the budget or a back-off.
    listener_ready: bool,
    router: Router,
    connections: FxHashMap<ConnHandle, Connection>,
    /// Connections that may have bytes to read: readiness reported, reading
    /// resumed, or the read budget spent. Edge-triggered readiness does not
    /// repeat, so whoever is listed here is read until it is drained: a
    /// read that leaves the buffer part-empty, or `WouldBlock`.
    read_queue: VecDeque<ConnHandle>,
    scratch: Box<[u8]>,
    shutdown_requested: Arc<AtomicBool>,
    drained: bool,
    stats_observer: Option<StatsObserver>,
}

impl EventLoop {
    pub(crate) fn new(
        poll: Poll,
        listener: TcpListener,
        router: Router,
        shutdown_requested: Arc<AtomicBool>,
    ) -> Self {
        EventLoop {
            poll,
            listener: Some(listener),
            listener_ready: false,
            router,
            connections: FxHashMap::default(),
            read_queue: VecDeque::new(),
            scratch: vec![0; SCRATCH_BYTES].into_boxed_slice(),
            shutdown_requested,
            drained: false,
            stats_observer: None,
        }
    }

    pub(crate) fn observe_stats(&mut self, observer: StatsObserver) {
        self.stats_observer = Some(observer);
    }

    /// Runs until the router reports [`Event::Drained`] after a shutdown.
    pub(crate) fn run(mut self) -> io::Result<Stats> {
        let mut events = Events::with_capacity(EVENTS_PER_TURN);
        loop {
            let timeout = self.poll_timeout(Instant::now());
            match self.poll.poll(&mut events, timeout) {
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                result => result?,
            }
            // One clock reading per turn: a turn's work is bounded, so it is
            // short next to any timeout the router keeps.
            let now = Instant::now();
            for readiness in events.iter() {
                self.on_readiness(readiness, now);
            }
            if self.shutdown_requested.load(Ordering::Acquire) {
                self.begin_shutdown(now);
            }
            self.accept_pending(now);
            self.read_queued(now);
            // Compared here rather than trusted to the poller's timeout, which
            // may return early or late.
            if self.router.poll_timeout().is_some_and(|at| at <= now) {
                self.router.handle_timeout(now);
                self.drain_outputs(now);
            }
            if let Some(observer) = &mut self.stats_observer {
                observer.observe(self.router.stats());
            }
            if self.drained {
                return Ok(self.router.stats().clone());
            }
        }
    }

    /// How long the next poll may sleep: not at all if work is left from this
    /// turn, otherwise until the router's deadline (the end of an accept
    /// pause among them), or until readiness if it has none. (mio rounds a
    /// sub-millisecond timeout up, so a wake-up never comes just too early.)
    fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        let accepts_left = self.listener_ready && self.router.wants_accept();
        if !self.read_queue.is_empty() || accepts_left {
            return Some(Duration::ZERO);
        }
        self.router
            .poll_timeout()
            .map(|at| at.saturating_duration_since(now))
    }

    fn on_readiness(&mut self, readiness: &Readiness, now: Instant) {
        match readiness.token() {
            LISTENER => self.listener_ready = true,
            // The shutdown flag is checked on every turn.
            WAKER => {}
            // Every other token is a connection's: its client's ID.
            token => {
                let conn = ConnHandle(token.0 as u32);
                if readiness.is_writable() {
                    self.router.handle_writable(conn);
                    self.drain_outputs(now);
                }
                // An error is left for the read to report, after any bytes
                // the client sent before it, which the router then delivers.
                let closed = readiness.is_read_closed() || readiness.is_error();
                if closed {
                    if let Some(c) = self.connections.get_mut(&conn) {
                        c.read_closed = true;
                    }
                }
                if readiness.is_readable() || closed {
                    self.queue_read(conn);
                }
            }
        }
    }

    fn queue_read(&mut self, conn: ConnHandle) {
        if let Some(c) = self.connections.get_mut(&conn) {
            if !c.in_read_queue {
                c.in_read_queue = true;
                self.read_queue.push_back(conn);
            }
        }
    }

    /// Gives each connection listed at the start of the turn one read budget.
    /// Those that spend it are listed again, behind everyone else.
    fn read_queued(&mut self, now: Instant) {
        for _ in 0..self.read_queue.len() {
            let Some(conn) = self.read_queue.pop_front() else {
                break;
            };
            let Some(c) = self.connections.get_mut(&conn) else {
                continue; // Closed since it was listed.
            };
            c.in_read_queue = false;
            if self.read_until_blocked(conn, now) == ReadOutcome::BudgetSpent {
                self.queue_read(conn);
            }
        }
    }

    /// Reads `conn` until it is drained, EOF, an error, the router no longer
    /// wanting its bytes (paused, closing), or the end of its read budget.
    fn read_until_blocked(&mut self, conn: ConnHandle, now: Instant) -> ReadOutcome {
        for _ in 0..READS_PER_TURN {
            if !self.router.wants_read(conn) {
                return ReadOutcome::Done;
            }
            let Some(c) = self.connections.get_mut(&conn) else {
                return ReadOutcome::Done;
            };
            match c.stream.read(&mut self.scratch) {
                Ok(0) => self.router.handle_eof(conn, now),
                Ok(n) => {
                    self.router.handle_input(conn, &self.scratch[..n], now);
                    // A read that leaves the buffer part-empty has drained the
                    // socket: with edge-triggered readiness, the next bytes
                    // bring a new event, so the `recv` that would only say
                    // `WouldBlock` is skipped (tokio does the same). Not so
                    // after a FIN or an error, which no new event announces.
                    if n < self.scratch.len() && !c.read_closed {
                        self.drain_outputs(now);
                        return ReadOutcome::Done;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    return ReadOutcome::Done;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    debug!(conn = conn.id(), %error, "read failed");
                    self.router.handle_reset(conn, now);
                }
            }
            self.drain_outputs(now);
        }
        ReadOutcome::BudgetSpent
    }

    /// Accepts until the listener is empty, the turn's budget is spent, or
    /// `accept` fails and the router pauses accepting.
    fn accept_pending(&mut self, now: Instant) {
        if !self.listener_ready || !self.router.wants_accept() {
            return;
        }
        for _ in 0..ACCEPTS_PER_TURN {
            let Some(listener) = &self.listener else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => self.admit(stream, peer, now),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.listener_ready = false;
                    return;
                }
                // The router skips a client that gave up, and pauses
                // accepting when the listener fails (out of descriptors).
                Err(error) => {
                    self.router.handle_accept_error(&error, now);
                    if !self.router.wants_accept() {
                        return;
                    }
                }
            }
        }
    }

    /// Hands a new socket to the router, which sends it its ID or refuses it.
    fn admit(&mut self, mut stream: TcpStream, peer: SocketAddr, now: Instant) {
        let Ok(conn) = self.router.handle_accept(now) else {
            debug!(%peer, "refused");
            return; // Refused: dropping the socket closes it unwritten.
        };
        debug!(conn = conn.id(), %peer, "connected");
        // The router coalesces what it writes; Nagle's algorithm would only
        // hold a small frame back waiting for an ACK.
        if let Err(error) = stream.set_nodelay(true) {
            debug!(conn = conn.id(), %error, "could not set TCP_NODELAY");
        }
        // Registration reports readiness the socket already has, so bytes the
        // client sent before this are not missed.
        let registered = self.poll.registry().register(
            &mut stream,
            Token(conn.id() as usize),
            Interest::READABLE | Interest::WRITABLE,
        );
        let connection = Connection {
            stream,
            peer,
            in_read_queue: false,
            read_closed: false,
        };
        self.connections.insert(conn, connection);
        if let Err(error) = registered {
            warn!(conn = conn.id(), %error, "could not register a connection with the poller");
            self.router.handle_reset(conn, now);
        }
        self.drain_outputs(now);
    }

    /// Stops accepting and tells the router to drain. Once only.
    fn begin_shutdown(&mut self, now: Instant) {
        if self.router.is_shutting_down() {
            return;
        }
        debug!(connections = self.connections.len(), "shutdown requested");
        self.listener = None;
        self.listener_ready = false;
        self.router.shutdown(now);
        self.drain_outputs(now);
    }

    /// Does what the router asks until it asks nothing more: the contract
    /// after every `handle_*` call. Events go first, and again after every
    /// write, since a write can resume senders or complete a close.
    fn drain_outputs(&mut self, now: Instant) {
        loop {
            while let Some(event) = self.router.poll_event() {
                self.on_router_event(event);
            }
            let Some(transmit) = self.router.poll_transmit() else {
                return;
            };
            let conn = transmit.conn;
            let mut slices = [IoSlice::new(&[]); SLICES_PER_WRITE];
            let count = transmit.io_slices(&mut slices);
            let result = match self.connections.get(&conn) {
                Some(c) => send_vectored(&c.stream, &slices[..count]),
                None => Err(io::ErrorKind::NotConnected.into()),
            };
            match result {
                Ok(written) => self.router.handle_written(conn, written, now),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.router.handle_write_blocked(conn);
                }
                Err(error) => {
                    debug!(conn = conn.id(), %error, "write failed");
                    self.router.handle_reset(conn, now);
                }
            }
        }
    }

    fn on_router_event(&mut self, event: Event) {
        match event {
            // Not reading is enough: the bytes stay in the kernel, whose full
            // buffer closes the TCP window and so pushes back on the client.
            // `wants_read` is false from now on, which stops the reads.
            Event::PauseReading(_) => {}
            // Bytes may be waiting with no new edge to announce them.
            Event::ResumeReading(conn) => self.queue_read(conn),
            // Dropping the socket closes it, which also removes it from the
            // poller; a readiness event already taken for it finds no socket.
            Event::Close(conn) => {
                if let Some(c) = self.connections.remove(&conn) {
                    debug!(conn = conn.id(), peer = %c.peer, "disconnected");
                }
            }
            Event::Drained => self.drained = true,
        }
    }
}

/// Why reading a connection stopped for this turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadOutcome {
    /// Nothing more to read for now: drained, EOF, an error, or the
    /// router wants no more (paused, closing, closed).
    Done,
    /// The turn's budget ran out with bytes possibly left in the kernel.
    BudgetSpent,
}
