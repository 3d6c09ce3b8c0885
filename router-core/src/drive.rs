//! The one way to do what the router asks: [`Router::drive`] over a driver's
//! [`Io`].
//!
//! After the router is told something (`handle_*`), it may want sockets
//! closed, readers resumed, bytes written and a timer set. Every driver used
//! to spell that drain out for itself ("events, then transmits, until both
//! are empty, then the timeout"), and the copies drifted: one retried an
//! interrupted write and another took it for `WouldBlock`, one reset a
//! connection it had no socket for and another panicked. Here the drain is
//! written once, and so is the reading of every write's result; a driver
//! only says how to write to, and close, one of its sockets.

use std::io::{self, IoSlice};
use std::time::Instant;

use tracing::debug;

use crate::event::{ConnHandle, Event};
use crate::peer::PeerId;
use crate::router::Router;

/// Slices offered to one vectored write. The router coalesces small frames
/// into large chunks, so a few slices carry many frames; 64 fit on the stack
/// and stay far below `IOV_MAX` (1024).
pub const MAX_IO_SLICES: usize = 64;

/// What a driver does for the router: its sockets, as the router sees them.
///
/// [`Router::drive`] calls these; nothing else does. Each method acts on one
/// socket, or on the listener, and decides nothing: whether to write, what,
/// when to close and what a failed write means are the router's calls.
pub trait Io {
    /// Writes a prefix of `slices` to `conn`'s socket without blocking, with
    /// one vectored write, and returns how many bytes it took.
    ///
    /// Return the socket's own result: `WouldBlock` when its send buffer is
    /// full (the router then offers `conn` nothing until
    /// [`Router::handle_writable`]), `Interrupted` to have the write retried,
    /// any other error to have the connection reset. A driver that has no
    /// socket for `conn` returns [`io::ErrorKind::NotConnected`], and the
    /// router resets it.
    fn write(&mut self, conn: ConnHandle, slices: &[IoSlice<'_>]) -> io::Result<usize>;

    /// Closes `conn`'s socket and forgets the handle. Called exactly once per
    /// accepted connection, whoever decided the close; the router will not
    /// name `conn` again until it hands the ID out anew.
    fn close(&mut self, conn: ConnHandle);

    /// `conn` may be read again after a pause
    /// ([`Router::wants_read`] is true once more). Bytes may already wait in
    /// the kernel with no new readiness to announce them, so a driver reads
    /// it soon, without waiting for an event.
    fn resume_reading(&mut self, conn: ConnHandle);

    /// Shutdown began: close the listening socket, so that the kernel refuses
    /// new connections rather than queue clients that will never get an ID.
    /// Called once.
    fn stop_listening(&mut self);

    /// Hands `batch`, the next batch of records for peer core `peer`, to the
    /// link that reaches it (a slot of an in-process ring, one NATS message),
    /// without blocking. Return `true` if the link took it; `false` (a full
    /// ring, a disconnected bridge) leaves the batch with the router, which
    /// offers it again, grown by what followed, on a later `drive`. Flow
    /// control is the router's: a link that refuses for long only stalls
    /// the senders to that peer.
    ///
    /// `batch` holds the batch's bytes and nothing else. A link that takes
    /// the batch may take the buffer itself rather than copy it, leaving an
    /// empty buffer in its place (best, one its peer has finished with and
    /// handed back, so that steady traffic neither copies nor allocates):
    /// the router builds its next batch for `peer` in whatever `batch`
    /// holds after a `true`, cleared. After a `false`, leave `batch` as it
    /// was.
    ///
    /// Called before the writes of a `drive` and after, once per peer
    /// each time (more only while what is batched exceeds
    /// [`Config::max_batch_bytes`](crate::Config::max_batch_bytes), until
    /// the link refuses a batch), only for peers the driver reported with
    /// [`Router::handle_peer_up`]. A driver without peers never sees it
    /// called; the default takes nothing.
    fn send_to_peer(&mut self, peer: PeerId, batch: &mut Vec<u8>) -> bool {
        let _ = (peer, batch);
        false
    }
}

impl Router {
    /// Does everything the router wants done by `now`, through `io`, and
    /// returns when it next wants to be driven if nothing happens first (the
    /// instant of [`poll_timeout`](Self::poll_timeout)).
    ///
    /// Call it after any `handle_*` call, or after a batch of them, and when
    /// the instant it returned has come. This project's drivers drive after
    /// every read, so that what a flooding client sent leaves in steps of one
    /// read and a quiet pair beside it waits for one read's routing at most
    /// (driving once per turn, after all its reads, measured far worse for
    /// such a pair), and once more at the end of each turn. It handles the timeouts due at `now`, hands each
    /// peer core its next batch, if it has one, then closes sockets, resumes
    /// readers and writes what is queued until every connection is written
    /// out or its socket would block, and hands the peers what that produced. Calling it with nothing to
    /// do is cheap and harmless.
    pub fn drive(&mut self, now: Instant, io: &mut impl Io) -> Option<Instant> {
        if self.poll_timeout().is_some_and(|at| at <= now) {
            self.handle_timeout(now);
        }
        // Batches first: what a client is written next may answer frames
        // this core has just forwarded (a sender's note to itself after
        // them, say), and whatever it does on seeing that write (ask the
        // router to drain) must find them already handed to the peer.
        self.transmit_to_peers(now, |peer, batch| io.send_to_peer(peer, batch));
        loop {
            while let Some(event) = self.poll_event() {
                match event {
                    Event::Close(conn) => io.close(conn),
                    // Not if it stopped being readable since it resumed, in
                    // the same call: shed to stay within max_buffered_bytes.
                    Event::ResumeReading(conn) if self.wants_read(conn) => io.resume_reading(conn),
                    Event::ResumeReading(_) => {}
                    Event::StopListening => io.stop_listening(),
                }
            }
            let Some(transmit) = self.poll_transmit() else {
                break;
            };
            let conn = transmit.conn;
            let mut slices = [IoSlice::new(&[]); MAX_IO_SLICES];
            let filled = transmit.io_slices(&mut slices);
            let result = loop {
                match io.write(conn, &slices[..filled]) {
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                    result => break result,
                }
            };
            self.handle_write_result(conn, result, now);
        }
        // And what the writes produced: a destination that drained tells
        // the peers whose senders wait on it.
        self.transmit_to_peers(now, |peer, batch| io.send_to_peer(peer, batch));
        self.poll_timeout()
    }

    /// Takes in what one write of a transmit to `conn` returned.
    fn handle_write_result(&mut self, conn: ConnHandle, result: io::Result<usize>, now: Instant) {
        match result {
            // Non-empty slices taken with nothing written: the socket will
            // take nothing more (`WriteZero`).
            Ok(0) => {
                debug!(conn = conn.id(), "write took no bytes: resetting");
                self.handle_reset(conn, now);
            }
            Ok(written) => self.handle_written(conn, written, now),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                self.handle_write_blocked(conn);
            }
            Err(error) => {
                debug!(conn = conn.id(), %error, "write failed: resetting");
                self.handle_reset(conn, now);
            }
        }
    }
}
