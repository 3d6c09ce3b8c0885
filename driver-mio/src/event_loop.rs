//! The loop: readiness in, router calls, the router driven after each.
//!
//! Each turn waits in the poller (no longer than the router's next deadline),
//! notes which sockets became readable or writable, accepts, reads (driving
//! the router after each read), and drives the router once more at the end;
//! driving writes, closes and resumes through the [`Sockets`]. Sockets are registered once, edge-triggered, for reading and
//! writing; the router's `wants_read` and the writes' `WouldBlock` decide
//! what is actually read and written.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mio::event::Event as Readiness;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use router_core::{ConnHandle, LogLimit, Router, Stats};
use router_links::{AcceptGate, CoreLinks};
use router_tls::TlsLoop;
use tracing::{debug, warn};

use crate::sockets::Sockets;
use crate::stats_observer::StatsObserver;

mod tls;

pub(crate) use tls::TlsSockets;

/// The listener's token, above every client ID so that the two never meet.
pub(crate) const LISTENER: Token = Token(usize::MAX);
/// The token of the waker that shutdown and the peer links' doorbell
/// share, likewise above every client ID.
pub(crate) const WAKER: Token = Token(usize::MAX - 1);

// A connection's token is its client's ID, a `u32`, so the listener and waker
// tokens are free only where `usize` is wider.
const _: () = assert!(usize::BITS > u32::BITS, "driver-mio needs a 64-bit target");

/// One read buffer for the whole loop: the router copies what it keeps, so no
/// connection needs a buffer of its own.
pub(crate) const SCRATCH_BYTES: usize = 64 * 1024;

/// Reads from one connection per turn (up to 1 MiB) before the others get
/// theirs, so that a flooding client cannot starve the rest.
const READS_PER_TURN: usize = 16;

/// Bytes read in one turn, from all connections together, before the turn
/// ends and the loop looks for new readiness: so that many flooding clients
/// at once cannot stretch a turn, and the latency of everyone else, past
/// about this much routing work. Connections left unread keep their place in the queue.
const READ_BYTES_PER_TURN: usize = 1024 * 1024;

/// Connections accepted per turn, so that a connection storm cannot starve
/// the connections already open.
const ACCEPTS_PER_TURN: usize = 256;

/// Readiness events taken from the poller per turn.
const EVENTS_PER_TURN: usize = 1024;

#[derive(Debug)]
pub(crate) struct EventLoop {
    poll: Poll,
    /// The listener may hold connections not yet accepted. Edge-triggered
    /// readiness does not repeat, so this stays set until `accept` reports
    /// `WouldBlock`, across turns cut short by the budget or a back-off.
    listener_ready: bool,
    router: Router,
    sockets: Sockets,
    scratch: Box<[u8]>,
    shutdown_requested: Arc<AtomicBool>,
    stats_observer: Option<StatsObserver>,
    /// Whose turn it is to accept, when cores share the listener.
    gate: Option<Box<dyn AcceptGate>>,
    /// Registration fails for every connection alike once the poller is out
    /// of room (`max_user_watches`): one warning per interval then.
    register_warnings: LogLimit,
    /// With TLS on: the layer and the sockets it holds.
    tls: Option<TlsSockets>,
}

impl EventLoop {
    pub(crate) fn new(
        poll: Poll,
        sockets: Sockets,
        router: Router,
        shutdown_requested: Arc<AtomicBool>,
    ) -> Self {
        EventLoop {
            poll,
            listener_ready: false,
            router,
            sockets,
            scratch: vec![0; SCRATCH_BYTES].into_boxed_slice(),
            shutdown_requested,
            stats_observer: None,
            gate: None,
            register_warnings: LogLimit::default(),
            tls: None,
        }
    }

    pub(crate) fn serve_tls_with(&mut self, tls: TlsSockets) {
        self.tls = Some(tls);
    }

    pub(crate) fn observe_stats(&mut self, observer: StatsObserver) {
        self.stats_observer = Some(observer);
    }

    pub(crate) fn link_peers(&mut self, peers: CoreLinks) {
        self.sockets.peers = Some(peers);
    }

    pub(crate) fn share_listener(&mut self, gate: Box<dyn AcceptGate>) {
        self.gate = Some(gate);
    }

    /// Whether this loop accepts now: always, unless it shares the
    /// listener and it is another core's turn.
    fn my_turn(&self) -> bool {
        self.gate.as_ref().is_none_or(|gate| gate.my_turn())
    }

    /// Runs until the router is drained after a shutdown.
    pub(crate) fn run(mut self) -> io::Result<Stats> {
        let mut events = Events::with_capacity(EVENTS_PER_TURN);
        let mut next_deadline = None;
        let mut now = Instant::now();
        loop {
            let timeout = self.before_wait(next_deadline, now);
            let polled = self.poll.poll(&mut events, timeout);
            if let Some(peers) = &self.sockets.peers {
                peers.after_wait();
            }
            match polled {
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                result => result?,
            }
            // One clock reading per turn: a turn's work is bounded, so it is
            // short next to any timeout the router keeps.
            now = Instant::now();
            // Time is news like the rest, and comes first: an accept pause
            // that ended must end before this turn's accepts.
            self.router.handle_timeout(now);
            for readiness in events.iter() {
                self.on_readiness(readiness);
            }
            // The request is read before the peers' batches are taken in,
            // and acted on after: a batch a peer sent before the request
            // came is taken while this core still takes frames.
            let shutdown_requested = self.shutdown_requested.load(Ordering::Acquire);
            if let Some(peers) = &mut self.sockets.peers {
                peers.take_in(&mut self.router, now);
            }
            if shutdown_requested && !self.router.is_shutting_down() {
                debug!(
                    connections = self.sockets.connections.len(),
                    "shutdown requested"
                );
                self.router.shutdown(now);
            }
            self.accept_pending(now);
            self.serve_tls(now);
            self.read_queued(now);
            next_deadline = self.router.drive(now, &mut self.sockets);
            if self.tls.is_some() {
                // Closes the drive made may linger; the handshakes' deadlines
                // wake the loop too.
                self.serve_tls(now);
                next_deadline = earliest(next_deadline, self.tls_deadline());
            }
            if let Some(gate) = &self.gate {
                gate.load(self.load());
            }
            if let Some(observer) = &mut self.stats_observer {
                observer.observe(self.router.stats());
            }
            if self.router.is_drained() {
                return Ok(self.router.stats().clone());
            }
        }
    }

    /// How long the next poll may sleep, after telling the peer links, if
    /// any, that the loop is about to: not at all if a batch came in the
    /// meantime, which is then taken in, to be driven on the next turn.
    fn before_wait(&mut self, deadline: Option<Instant>, now: Instant) -> Option<Duration> {
        let timeout = self.poll_timeout(deadline, now);
        if timeout == Some(Duration::ZERO) {
            return timeout;
        }
        let peer_news = (self.sockets.peers.as_mut())
            .is_some_and(|peers| peers.before_wait(&mut self.router, now));
        if peer_news {
            return Some(Duration::ZERO);
        }
        // The turn to accept may have come meanwhile, its ring unheard.
        self.poll_timeout(deadline, now)
    }

    /// How long the next poll may sleep: not at all if work is left from this
    /// turn, otherwise until the router's deadline, or until readiness if it
    /// has none. (mio rounds a sub-millisecond timeout up, so a wake-up never
    /// comes just too early; and `drive` compares the deadline with the
    /// clock itself, so a poller that returns early or late costs a turn.)
    fn poll_timeout(&self, deadline: Option<Instant>, now: Instant) -> Option<Duration> {
        let accepts_left = self.listener_ready
            && self.sockets.listener.is_some()
            && self.router.wants_accept()
            && self.my_turn();
        if !self.sockets.read_queue.is_empty() || accepts_left {
            return Some(Duration::ZERO);
        }
        deadline.map(|at| at.saturating_duration_since(now))
    }

    fn on_readiness(&mut self, readiness: &Readiness) {
        match readiness.token() {
            LISTENER => self.listener_ready = true,
            // The shutdown flag and the peer links are checked on every turn.
            WAKER => {}
            token if self.tls.as_mut().is_some_and(|t| t.note_ready(token)) => {}
            // Every other token is a connection's: its client's ID.
            token => {
                let conn = ConnHandle(token.0 as u32);
                // With TLS, records left from before go first: the router
                // hears of the room only once they are all written.
                if readiness.is_writable() && (self.tls.is_none() || self.flush_session(conn)) {
                    self.router.handle_writable(conn);
                }
                // An error is left for the read to report, after any bytes
                // the client sent before it, which the router then delivers.
                let closed = readiness.is_read_closed() || readiness.is_error();
                if closed {
                    if let Some(c) = self.sockets.connections.get_mut(&conn) {
                        c.read_closed = true;
                    }
                }
                if readiness.is_readable() || closed {
                    self.sockets.queue_read(conn);
                }
            }
        }
    }

    /// Gives each connection listed at the start of the turn one read budget,
    /// until the turn's bytes are spent. Those that spend their budget are
    /// listed again, behind everyone else.
    fn read_queued(&mut self, now: Instant) {
        let mut turn_bytes = 0;
        for _ in 0..self.sockets.read_queue.len() {
            if turn_bytes >= READ_BYTES_PER_TURN {
                return;
            }
            let Some(conn) = self.sockets.next_to_read() else {
                break;
            };
            let (outcome, bytes) = self.read_until_blocked(conn, now);
            turn_bytes += bytes;
            if outcome == ReadOutcome::BudgetSpent {
                self.sockets.queue_read(conn);
            }
        }
    }

    /// Reads `conn` until it is drained, EOF, an error, the router no longer
    /// wanting its bytes (paused, closing), or the end of its read budget.
    /// Returns why it stopped, and the bytes it read.
    fn read_until_blocked(&mut self, conn: ConnHandle, now: Instant) -> (ReadOutcome, usize) {
        let mut bytes = 0;
        for _ in 0..READS_PER_TURN {
            if !self.router.wants_read(conn) {
                return (ReadOutcome::Done, bytes);
            }
            let Some(c) = self.sockets.connections.get_mut(&conn) else {
                return (ReadOutcome::Done, bytes);
            };
            match c.stream.read(&mut self.scratch) {
                Ok(0) => self.router.handle_eof(conn, now),
                Ok(n) => {
                    bytes += n;
                    let drained = n < self.scratch.len() && !c.read_closed;
                    let read = &self.scratch[..n];
                    match (&mut c.session, &mut self.tls) {
                        (Some(session), Some(t)) => {
                            t.layer.deliver(session, read, &mut self.router, conn, now);
                        }
                        _ => self.router.handle_input(conn, read, now),
                    }
                    // What it sent goes out before the next read: the
                    // frames of a flooding sender leave in steps of one
                    // read, not of its whole budget, and a ping-pong pair
                    // beside it waits for one read's routing at most.
                    self.router.drive(now, &mut self.sockets);
                    // A read that leaves the buffer part-empty has drained the
                    // socket: with edge-triggered readiness, the next bytes
                    // bring a new event, so the `recv` that would only say
                    // `WouldBlock` is skipped (tokio does the same). Not so
                    // after a FIN or an error, which no new event announces.
                    if drained {
                        return (ReadOutcome::Done, bytes);
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    return (ReadOutcome::Done, bytes);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    debug!(conn = conn.id(), %error, "read failed");
                    self.router.handle_reset(conn, now);
                }
            }
        }
        (ReadOutcome::BudgetSpent, bytes)
    }

    /// Accepts until the listener is empty, the turn's budget is spent, or
    /// `accept` fails and the router pauses accepting.
    fn accept_pending(&mut self, now: Instant) {
        for _ in 0..ACCEPTS_PER_TURN {
            if !self.listener_ready || !self.router.wants_accept() || !self.my_turn() {
                return;
            }
            let Some(listener) = &self.sockets.listener else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => self.admit(stream, peer, now),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.listener_ready = false;
                }
                // The router skips a client that gave up, and pauses
                // accepting when the listener fails (out of descriptors).
                Err(error) => self.router.handle_accept_error(&error, now),
            }
        }
    }

    /// The connections this loop holds, for the gate ([`TlsLoop::load`]).
    fn load(&self) -> u64 {
        TlsLoop::load(self.tls.as_ref().map(|t| &t.layer), &self.router)
    }

    /// Passes the listener's turn on after accepting (or refusing) a socket.
    fn pass_turn(&self) {
        if let Some(gate) = &self.gate {
            gate.took_turn(self.load());
        }
    }

    /// Hands a new socket to the router, which sends it its ID or refuses it;
    /// with TLS on, to its handshake first.
    fn admit(&mut self, mut stream: TcpStream, peer: SocketAddr, now: Instant) {
        if self.tls.is_some() {
            self.admit_tls(stream, peer, now);
            return self.pass_turn();
        }
        let accepted = self.router.handle_accept(now);
        self.pass_turn();
        let Ok(conn) = accepted else {
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
        self.sockets.insert(conn, stream, peer, None);
        if let Err(error) = registered {
            if let Some(suppressed) = self.register_warnings.allow(now) {
                warn!(
                    conn = conn.id(),
                    %error,
                    suppressed,
                    "could not register a connection with the poller"
                );
            }
            self.router.handle_reset(conn, now);
        }
    }
}

/// The earlier of two deadlines.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
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
