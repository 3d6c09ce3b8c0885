//! The connections no router knows yet, or any more: those handshaking, and
//! those closed with records still to flush. Their deadlines and their fate
//! are decided here, once for every driver.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use router_core::{ConnHandle, LogLimit, Router};
use rustc_hash::FxHashMap;
use rustls::ServerConnection;
use tracing::{debug, warn};

use crate::config::TlsConfig;
use crate::counters::{HandshakeFailure, TlsCounters};
use crate::session::{Received, Session, flush, receive};

/// A connection the layer holds, as its driver keys the socket meanwhile.
/// Never the same as a live one's; reused only after its
/// [`TlsEvent::Close`] or [`Tls::take_session`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PendingId(pub u32);

/// What the layer wants its driver to do, from [`Tls::poll_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsEvent {
    /// The handshake completed: take the session ([`Tls::take_session`]),
    /// ask the router for an ID, and serve the socket as that client's.
    Established(PendingId),
    /// Drop this socket: its handshake failed or timed out, or it lingered
    /// until flushed or out of time.
    Close(PendingId),
}

#[derive(Debug)]
struct Pending {
    conn: ServerConnection,
    /// What the client sent right behind its handshake, often in the same
    /// read (a TLS 1.3 client need not wait): at most one read's worth,
    /// handed to the router with the session.
    early: Vec<u8>,
    deadline: Instant,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Handshaking,
    /// Handshake done, waiting for [`Tls::take_session`].
    Established,
    /// Done with (failed, or closed by the router): flushing its last
    /// records (an alert, `close_notify`), then closed.
    Closing,
}

/// The TLS layer of one driver loop: a sans-IO state machine, like the
/// router it sits in front of. It owns the handshakes under way and their
/// deadlines, decides when one failed or timed out, counts and logs
/// (rate-limited) each failure by cause, and says when a connection is ready
/// for its ID. It sees no socket: [`TlsLoop`](crate::TlsLoop), which holds
/// them keyed by [`PendingId`], calls [`handle_input`](Self::handle_input)
/// after a read, [`flush`](Self::flush) after that, then drains
/// [`poll_event`](Self::poll_event); [`handle_timeout`](Self::handle_timeout)
/// when [`poll_timeout`](Self::poll_timeout) comes.
#[derive(Debug)]
pub struct Tls {
    config: TlsConfig,
    pending: FxHashMap<PendingId, Pending>,
    handshaking: usize,
    next_id: u32,
    /// Deadlines with lazy deletion: an entry whose connection is gone, or
    /// has another deadline, is skipped when it comes up.
    deadlines: BinaryHeap<Reverse<(Instant, PendingId)>>,
    events: VecDeque<TlsEvent>,
    counters: Arc<TlsCounters>,
    failure_logs: [LogLimit; HandshakeFailure::ALL.len()],
}

impl Tls {
    /// A layer with no connection yet, counting into `counters`.
    pub fn new(config: TlsConfig, counters: Arc<TlsCounters>) -> Tls {
        Tls {
            config,
            pending: FxHashMap::default(),
            handshaking: 0,
            next_id: 0,
            deadlines: BinaryHeap::new(),
            events: VecDeque::new(),
            counters,
            failure_logs: Default::default(),
        }
    }

    /// A connection was accepted: its handshake starts, to complete by `now`
    /// plus `handshake_timeout`. `None` if `max_handshakes` are under way
    /// (counted `too_many`): the driver drops the socket.
    pub fn accept(&mut self, now: Instant) -> Option<PendingId> {
        if self.handshaking >= self.config.limits.max_handshakes {
            self.fail(None, HandshakeFailure::TooMany, now);
            return None;
        }
        let conn = match ServerConnection::new(Arc::clone(&self.config.server)) {
            Ok(conn) => conn,
            Err(error) => {
                debug!(%error, "could not start a TLS connection");
                self.fail(None, HandshakeFailure::Protocol, now);
                return None;
            }
        };
        self.handshaking += 1;
        Some(self.hold(conn, State::Handshaking, now))
    }

    /// The router closed `session`'s client, but records are left to write
    /// ([`Session::wants_flush`]): the layer holds it until they are flushed,
    /// or for `handshake_timeout` at most. `None` if the layer is full: the
    /// records are dropped with the socket.
    pub fn linger(&mut self, session: Session, now: Instant) -> Option<PendingId> {
        if self.pending.len() >= 2 * self.config.limits.max_handshakes {
            return None;
        }
        Some(self.hold(session.into_inner(), State::Closing, now))
    }

    fn hold(&mut self, conn: ServerConnection, state: State, now: Instant) -> PendingId {
        let mut id = PendingId(self.next_id);
        while self.pending.contains_key(&id) {
            id = PendingId(id.0.wrapping_add(1));
        }
        self.next_id = id.0.wrapping_add(1);
        let deadline = now + self.config.limits.handshake_timeout;
        self.deadlines.push(Reverse((deadline, id)));
        self.pending.insert(
            id,
            Pending {
                conn,
                early: Vec::new(),
                deadline,
                state,
            },
        );
        id
    }

    /// `ciphertext` was read from `id`'s socket. After it, call
    /// [`flush`](Self::flush) (the handshake may have records to send) and
    /// drain [`poll_event`](Self::poll_event).
    pub fn handle_input(&mut self, id: PendingId, ciphertext: &[u8], now: Instant) {
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        if p.state == State::Closing {
            return; // Whatever a closing client still sends is dropped.
        }
        let mut scratch = [0; 4096];
        let early = &mut p.early;
        match receive(&mut p.conn, ciphertext, &mut scratch, |bytes| {
            early.extend_from_slice(bytes)
        }) {
            Err(error) => {
                debug!(pending = id.0, %error, "TLS handshake failed");
                self.fail(Some(id), HandshakeFailure::of(&error), now);
            }
            Ok(Received::Closed) => self.fail(Some(id), HandshakeFailure::Closed, now),
            Ok(Received::Open) if p.state == State::Handshaking && !p.conn.is_handshaking() => {
                p.state = State::Established;
                self.handshaking -= 1;
                self.counters.count_completed();
                self.events.push_back(TlsEvent::Established(id));
            }
            Ok(Received::Open) => {}
        }
    }

    /// `id`'s socket reached EOF or failed before its handshake completed.
    pub fn handle_closed(&mut self, id: PendingId, now: Instant) {
        match self.pending.get(&id).map(|p| p.state) {
            Some(State::Handshaking) => self.fail(Some(id), HandshakeFailure::Closed, now),
            Some(State::Established | State::Closing) => self.close(id),
            None => {}
        }
    }

    /// Writes `id`'s waiting records to its socket, as far as it takes them.
    /// A closing connection that is flushed, or whose socket failed, is
    /// closed ([`TlsEvent::Close`]).
    pub fn flush(&mut self, id: PendingId, socket: &mut impl Write, now: Instant) {
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        let result = flush(&mut p.conn, socket);
        let blocked = matches!(&result, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        match (p.state, result) {
            (State::Closing, Ok(())) => self.close(id),
            (State::Closing, Err(_)) if !blocked => self.close(id),
            (State::Handshaking, Err(error)) if !blocked => {
                debug!(pending = id.0, %error, "TLS handshake write failed");
                self.fail(Some(id), HandshakeFailure::Closed, now);
            }
            _ => {}
        }
    }

    /// Whether `id`'s handshake is under way, so that its driver reads its
    /// socket: until it would block, since the layer fails a handshake that
    /// grows past rustls' bounds, and no further once it completes (the rest
    /// is the router's to read) or fails (a closing client is not read).
    pub fn wants_input(&self, id: PendingId) -> bool {
        self.pending
            .get(&id)
            .is_some_and(|p| p.state == State::Handshaking)
    }

    /// Whether `id` has records its socket has not taken yet: the driver
    /// waits for its writability then.
    pub fn wants_flush(&self, id: PendingId) -> bool {
        self.pending.get(&id).is_some_and(|p| p.conn.wants_write())
    }

    /// Hands over the session of a connection whose handshake completed
    /// ([`TlsEvent::Established`]), with the plaintext the client sent
    /// behind its handshake, for the router once it has given an ID.
    pub fn take_session(&mut self, id: PendingId) -> Option<(Session, Vec<u8>)> {
        let p = self.pending.remove(&id)?;
        Some((Session::new(p.conn), p.early))
    }

    /// Gives the client whose handshake completed ([`TlsEvent::Established`])
    /// its ID: takes its session, asks `router` for an ID, and hands the
    /// router what the client sent behind its handshake. The driver then
    /// serves the socket as `conn`'s, through the session. `None` if the
    /// router refused it (connection limit, shutdown): the driver drops the
    /// socket, as it does a plain one the router refuses.
    pub fn admit(
        &mut self,
        id: PendingId,
        router: &mut Router,
        now: Instant,
    ) -> Option<(ConnHandle, Session)> {
        let (session, early) = self.take_session(id)?;
        let conn = router.handle_accept(now).ok()?;
        // Nothing is written before the next drive, by which time the
        // driver has the socket under `conn`.
        router.handle_input(conn, &early, now);
        Some((conn, session))
    }

    /// The next thing the layer wants done, until `None`.
    pub fn poll_event(&mut self) -> Option<TlsEvent> {
        self.events.pop_front()
    }

    /// The earliest deadline of a connection the layer holds.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(&Reverse((at, id))) = self.deadlines.peek() {
            if self.pending.get(&id).is_some_and(|p| p.deadline == at) {
                return Some(at);
            }
            self.deadlines.pop();
        }
        None
    }

    /// Closes every connection whose deadline has come by `now`: a handshake
    /// is counted `timeout`, a lingering close gives up its records.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(at) = self.poll_timeout() {
            if at > now {
                return;
            }
            let Some(Reverse((_, id))) = self.deadlines.pop() else {
                return;
            };
            self.handle_closed_on_time(id, now);
        }
    }

    fn handle_closed_on_time(&mut self, id: PendingId, now: Instant) {
        match self.pending.get(&id).map(|p| p.state) {
            Some(State::Handshaking) => self.fail(Some(id), HandshakeFailure::Timeout, now),
            Some(State::Established | State::Closing) => self.close(id),
            None => {}
        }
    }

    /// The settings it was made with.
    pub fn config(&self) -> &TlsConfig {
        &self.config
    }

    /// Connections handshaking now.
    pub fn handshakes(&self) -> usize {
        self.handshaking
    }

    /// The connections a loop holds, for placing new ones over the shards
    /// (its `AcceptGate`'s load): `router`'s open ones, and those handshaking
    /// in `tls`, if on, or a burst of TLS clients would all land on the
    /// shard whose turn it was before any of them got an ID.
    pub fn load(tls: Option<&Tls>, router: &Router) -> u64 {
        let handshakes = tls.map_or(0, Tls::handshakes);
        router.stats().connections_open + handshakes as u64
    }

    /// Counts and logs a failed handshake; `id`, if any, turns to closing so
    /// that the alert rustls queued is flushed, or, on timeout or a closed
    /// socket, is closed at once.
    fn fail(&mut self, id: Option<PendingId>, cause: HandshakeFailure, now: Instant) {
        self.counters.count_failed(cause);
        if let Some(suppressed) = self.failure_logs[cause as usize].allow(now) {
            warn!(cause = cause.name(), suppressed, "TLS handshake failed");
        }
        let Some(id) = id else {
            return;
        };
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        if p.state == State::Handshaking {
            self.handshaking -= 1;
        }
        p.state = State::Closing;
        let alert_queued = p.conn.wants_write();
        if !alert_queued || matches!(cause, HandshakeFailure::Timeout | HandshakeFailure::Closed) {
            self.close(id);
        }
    }

    fn close(&mut self, id: PendingId) {
        if let Some(p) = self.pending.remove(&id) {
            if p.state == State::Handshaking {
                self.handshaking -= 1;
            }
            self.events.push_back(TlsEvent::Close(id));
        }
    }
}
