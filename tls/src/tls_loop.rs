//! TLS as one driver loop runs it, written once for every driver: the
//! sockets the layer holds while no client owns them (handshaking, or
//! lingering after a close), what is read from and written to them, and the
//! passage of a completed handshake to the router.
//!
//! What stays in a driver is what only it knows: how to read and write one
//! of its sockets without blocking, and how to hear that it is ready again.
//! It hands each socket over as an `S` that reads and writes (`WouldBlock`
//! once nothing more can be done now, the socket's readiness registered to
//! say when), keyed by the [`PendingId`] the layer gives it.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

use router_core::{ConnHandle, Router};
use rustc_hash::FxHashMap;
use tracing::debug;

use crate::pending::{PendingId, Tls, TlsEvent};
use crate::session::Session;

/// The size of the loop's one buffer: a held socket's reads, and each
/// record's plaintext on its way from a session to the router.
const BUFFER_BYTES: usize = 64 * 1024;

/// The TLS of one driver loop: the [`Tls`] layer, the sockets it holds, and
/// one buffer for its reads and decryption.
///
/// A driver, each turn: [`handle_timeout`](Self::handle_timeout), hands
/// closed sessions with records left to [`linger`](Self::linger),
/// [`serve`](Self::serve)s each held socket its readiness reported, then
/// drains [`poll_admitted`](Self::poll_admitted) and serves each
/// [`Admitted`] socket as its client's from then on: its reads through
/// [`deliver`](Self::deliver), the router's writes through
/// [`Session::write`]. It sleeps no later than
/// [`poll_timeout`](Self::poll_timeout).
#[derive(Debug)]
pub struct TlsLoop<S> {
    tls: Tls,
    held: FxHashMap<PendingId, Held<S>>,
    /// A held socket's reads land here; so does a session's plaintext on its
    /// way to the router. One use never spans a call, so one buffer serves.
    buffer: Box<[u8]>,
}

#[derive(Debug)]
struct Held<S> {
    socket: S,
    /// For the log lines: once the client has reset, the socket no longer
    /// knows it.
    peer: SocketAddr,
}

/// A client whose handshake completed and whom the router gave an ID: the
/// driver serves `socket` as `conn`'s from now on, every read and write
/// through `session`.
#[derive(Debug)]
pub struct Admitted<S> {
    /// The client's ID.
    pub conn: ConnHandle,
    /// Its TLS state, kept beside the socket.
    pub session: Session,
    /// The socket, as the driver handed it over.
    pub socket: S,
    /// Where the client connected from.
    pub peer: SocketAddr,
}

impl<S: Read + Write> TlsLoop<S> {
    /// A loop's TLS, with no socket held yet.
    pub fn new(tls: Tls) -> Self {
        TlsLoop {
            tls,
            held: FxHashMap::default(),
            buffer: vec![0; BUFFER_BYTES].into_boxed_slice(),
        }
    }

    /// A socket from `peer` was accepted: its handshake starts, and it gets
    /// no ID yet. `hold` turns it into the `S` the layer keeps, the driver
    /// registering its readiness under the [`PendingId`] it is given, and
    /// queuing it to be [`serve`](Self::serve)d. The socket is dropped, and
    /// the failure counted, if the layer refuses it (`max_handshakes` under
    /// way) or `hold` fails.
    pub fn accept(
        &mut self,
        peer: SocketAddr,
        now: Instant,
        hold: impl FnOnce(PendingId) -> io::Result<S>,
    ) {
        match self.tls.accept(now) {
            Some(id) => self.hold(id, peer, now, hold),
            None => debug!(%peer, "refused before its TLS handshake"),
        }
    }

    /// The router closed `session`'s client from `peer`, and records are
    /// left to write ([`Session::wants_flush`]): the layer holds the socket
    /// `hold` makes, like an accepted one, until they are flushed or for
    /// `handshake_timeout` at most. Dropped with its records if the layer is
    /// full or `hold` fails.
    pub fn linger(
        &mut self,
        session: Session,
        peer: SocketAddr,
        now: Instant,
        hold: impl FnOnce(PendingId) -> io::Result<S>,
    ) {
        if let Some(id) = self.tls.linger(session, now) {
            self.hold(id, peer, now, hold);
        }
    }

    fn hold(
        &mut self,
        id: PendingId,
        peer: SocketAddr,
        now: Instant,
        hold: impl FnOnce(PendingId) -> io::Result<S>,
    ) {
        match hold(id) {
            Ok(socket) => {
                self.held.insert(id, Held { socket, peer });
            }
            Err(error) => {
                debug!(%peer, %error, "could not hold a TLS connection");
                self.tls.handle_closed(id, now);
            }
        }
    }

    /// `id`'s socket is ready, or may be: reads it into the layer while its
    /// handshake runs, until it would block (no new readiness announces
    /// bytes left behind), then writes what the layer has for it. EOF or a
    /// failed read closes it; an interrupted read is tried again. Drain
    /// [`poll_admitted`](Self::poll_admitted) after. An `id` the layer no
    /// longer holds (a late readiness) is ignored.
    pub fn serve(&mut self, id: PendingId, now: Instant) {
        let Some(held) = self.held.get_mut(&id) else {
            return;
        };
        while self.tls.wants_input(id) {
            match held.socket.read(&mut self.buffer) {
                Ok(0) => self.tls.handle_closed(id, now),
                Ok(n) => self.tls.handle_input(id, &self.buffer[..n], now),
                Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => {
                    debug!(pending = id.0, %error, "TLS read failed");
                    self.tls.handle_closed(id, now);
                }
            }
        }
        self.tls.flush(id, &mut held.socket, now);
    }

    /// The next client whose handshake completed, with the ID the router
    /// gave it, until `None`. On the way, drops the sockets the layer is
    /// done with (failed, timed out, flushed after a close), and those of
    /// clients the router refused (connection limit, shutdown), as a plain
    /// socket the router refuses is dropped. Drain it after
    /// [`serve`](Self::serve), [`linger`](Self::linger) and
    /// [`handle_timeout`](Self::handle_timeout).
    pub fn poll_admitted(&mut self, router: &mut Router, now: Instant) -> Option<Admitted<S>> {
        while let Some(event) = self.tls.poll_event() {
            let id = match event {
                TlsEvent::Established(id) => id,
                // Dropping the socket closes it.
                TlsEvent::Close(id) => {
                    self.held.remove(&id);
                    continue;
                }
            };
            let Some(Held { socket, peer }) = self.held.remove(&id) else {
                continue;
            };
            let Some((conn, session)) = self.tls.admit(id, router, now) else {
                debug!(%peer, "refused");
                continue;
            };
            debug!(conn = conn.id(), %peer, "connected over TLS");
            return Some(Admitted {
                conn,
                session,
                socket,
                peer,
            });
        }
        None
    }

    /// `ciphertext` was read from `conn`'s socket, whose client has
    /// `session`: the plaintext goes to `router` through the loop's buffer,
    /// `close_notify` as EOF, a broken record (bad or replayed) as a reset.
    pub fn deliver(
        &mut self,
        session: &mut Session,
        ciphertext: &[u8],
        router: &mut Router,
        conn: ConnHandle,
        now: Instant,
    ) {
        session.deliver(ciphertext, &mut self.buffer, router, conn, now);
    }

    /// Closes every held socket whose deadline has come by `now`
    /// ([`Tls::handle_timeout`]). Drain
    /// [`poll_admitted`](Self::poll_admitted) after.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tls.handle_timeout(now);
    }

    /// The earliest deadline of a handshake or a lingering close: the loop
    /// wakes no later, for [`handle_timeout`](Self::handle_timeout).
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.tls.poll_timeout()
    }

    /// The connections a loop holds, for placing new ones over the shards
    /// ([`Tls::load`]).
    pub fn load(tls: Option<&Self>, router: &Router) -> u64 {
        Tls::load(tls.map(|t| &t.tls), router)
    }
}

#[cfg(test)]
mod tests;
