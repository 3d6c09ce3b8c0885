//! The one task that owns the router and every socket.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use router_core::{Config, ConnHandle, Event, Router, Stats};
use rustc_hash::FxHashMap;
use tracing::debug;

use crate::ready::ReadyQueue;
use crate::socket::Socket;

/// Bytes read at once, into one buffer for the whole task: an idle
/// connection holds no read buffer.
const SCRATCH_BYTES: usize = 64 * 1024;

/// Connections serviced per wake-up; the rest wait for the next turn, after
/// the runtime has run its other tasks. Servicing one costs tokio's
/// cooperative budget (128 per task poll) one or two units.
const CONNECTIONS_PER_TURN: usize = 64;

/// Reads from one connection per turn (up to 512 KiB), so that a flooding
/// client cannot keep the task from the others.
const READS_PER_TURN: usize = 8;

/// Slices per vectored write. The router coalesces small frames, so a few
/// slices carry many frames; far below `IOV_MAX`.
const SLICES_PER_WRITE: usize = 64;

/// What woke the driver's loop. Waiting for one of these, in its runtime's
/// idiom, is all a driver does; [`RouterTask::handle`] does the rest.
#[derive(Debug)]
pub enum Wakeup<S> {
    /// The application asked for a graceful shutdown.
    Shutdown,
    /// The listener accepted a connection from a peer, or failed to.
    Accepted(io::Result<(S, SocketAddr)>),
    /// Connections became ready: [`RouterTask::poll_ready`] returned `Ready`.
    Ready,
    /// The instant of [`RouterTask::next_wakeup`] came, or a timer says so.
    Timer,
}

/// A [`Router`] and the sockets of its connections, keyed by handle, served by
/// one task.
///
/// The driver's loop waits for a [`Wakeup`] and passes it to
/// [`handle`](Self::handle) until [`is_drained`](Self::is_drained); whenever
/// [`has_backlog`](Self::has_backlog) says so, it yields to its runtime first.
#[derive(Debug)]
pub struct RouterTask<S> {
    router: Router,
    connections: FxHashMap<ConnHandle, Connection<S>>,
    ready: Arc<ReadyQueue>,
    scratch: Box<[u8]>,
}

#[derive(Debug)]
struct Connection<S> {
    socket: S,
    /// Kept for the close log line: once the client has reset, the socket
    /// no longer knows it.
    peer: SocketAddr,
    /// Queues this connection for service when the runtime wakes it.
    waker: Waker,
    /// The last write returned `WouldBlock`; writability clears it.
    write_blocked: bool,
}

impl<S: Socket> RouterTask<S> {
    /// A task with a new router and no connection. An inconsistent `config`
    /// is an `InvalidInput` error wrapping the
    /// [`ConfigError`](router_core::ConfigError), which is what
    /// a driver's `serve` returns for it.
    pub fn new(config: Config) -> io::Result<Self> {
        let router = Router::new(config)
            .map_err(|invalid| io::Error::new(io::ErrorKind::InvalidInput, invalid))?;
        Ok(RouterTask {
            router,
            connections: FxHashMap::default(),
            ready: Arc::default(),
            scratch: vec![0; SCRATCH_BYTES].into_boxed_slice(),
        })
    }

    /// Whether to wait on the listener: false for a moment after it failed
    /// ([`Router::wants_accept`](router_core::Router::wants_accept)). During
    /// shutdown it is still true: the router refuses and counts the
    /// connections that arrive.
    pub fn is_accepting(&self) -> bool {
        self.router.wants_accept()
    }

    /// Whether [`Wakeup::Shutdown`] has been handled: stop waiting on the
    /// shutdown signal.
    pub fn is_shutting_down(&self) -> bool {
        self.router.is_shutting_down()
    }

    /// Whether the shutdown has finished and the loop may return.
    pub fn is_drained(&self) -> bool {
        self.router.is_drained()
    }

    /// When to wake with [`Wakeup::Timer`] if nothing else happens first,
    /// the end of an accept pause included.
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.router.poll_timeout()
    }

    /// `Ready` when a connection was woken, for [`Wakeup::Ready`]; otherwise
    /// registers `cx`'s waker to be woken with the next one.
    pub fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.ready.poll_woken(cx)
    }

    /// Whether connections still wait for service after a turn: the driver
    /// yields to its runtime, so that a busy router shares the thread, and
    /// loops again at once.
    pub fn has_backlog(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Does one turn of work for `wakeup`, then whatever the clock makes due.
    /// Every `handle_*` call on the router is followed by a full drain of its
    /// events and transmits.
    pub fn handle(&mut self, wakeup: Wakeup<S>, now: Instant) {
        match wakeup {
            Wakeup::Shutdown => {
                self.router.shutdown(now);
                self.flush(now);
            }
            Wakeup::Accepted(Ok((socket, peer))) => self.accept(socket, peer, now),
            Wakeup::Accepted(Err(error)) => self.router.handle_accept_error(&error, now),
            Wakeup::Ready => self.service_ready(now),
            Wakeup::Timer => {}
        }
        // A runtime's timer may fire late, early, or not at all while the
        // task is busy (tokio's cooperative budget): the clock decides.
        if self.router.poll_timeout().is_some_and(|at| at <= now) {
            self.router.handle_timeout(now);
            self.flush(now);
        }
    }

    /// The router's counters now: for a stats observer, called after each
    /// [`handle`](Self::handle).
    pub fn stats(&self) -> &Stats {
        self.router.stats()
    }

    /// The router's final counters.
    pub fn into_stats(self) -> Stats {
        self.router.stats().clone()
    }

    fn accept(&mut self, socket: S, peer: SocketAddr, now: Instant) {
        match self.router.handle_accept(now) {
            Ok(conn) => {
                debug!(conn = conn.id(), %peer, "connected");
                let waker = self.ready.waker(conn);
                // Serviced on the next turn: its first read registers interest.
                waker.wake_by_ref();
                let connection = Connection {
                    socket,
                    peer,
                    waker,
                    write_blocked: false,
                };
                self.connections.insert(conn, connection);
                self.flush(now);
            }
            // Dropping the socket closes it without a byte written.
            Err(refused) => debug!(%peer, %refused, "refused"),
        }
    }

    /// Services the connections woken longest ago, at most
    /// [`CONNECTIONS_PER_TURN`] of them.
    fn service_ready(&mut self, now: Instant) {
        for _ in 0..CONNECTIONS_PER_TURN {
            let Some(conn) = self.ready.pop() else {
                return;
            };
            self.poll_writable(conn, now);
            self.read(conn, now);
        }
    }

    /// If `conn` is waiting to write, checks whether it can now.
    fn poll_writable(&mut self, conn: ConnHandle, now: Instant) {
        let Some(c) = self.connections.get_mut(&conn) else {
            return;
        };
        if !c.write_blocked {
            return;
        }
        match c
            .socket
            .poll_write_ready(&mut Context::from_waker(&c.waker))
        {
            Poll::Pending => return,
            Poll::Ready(Ok(())) => {
                c.write_blocked = false;
                self.router.handle_writable(conn);
            }
            Poll::Ready(Err(error)) => self.reset(conn, &error, now),
        }
        self.flush(now);
    }

    /// Reads `conn` until it would block, the router stops wanting its bytes,
    /// or [`READS_PER_TURN`] reads are done.
    fn read(&mut self, conn: ConnHandle, now: Instant) {
        for _ in 0..READS_PER_TURN {
            if !self.router.wants_read(conn) {
                return; // Paused, at EOF or closed: nothing is armed for reading.
            }
            let Some(c) = self.connections.get_mut(&conn) else {
                return;
            };
            let mut cx = Context::from_waker(&c.waker);
            match c.socket.poll_read(&mut cx, &mut self.scratch) {
                // Drained, and the waker is registered for the next bytes.
                Poll::Pending => return,
                Poll::Ready(Ok(0)) => self.router.handle_eof(conn, now),
                Poll::Ready(Ok(n)) => self.router.handle_input(conn, &self.scratch[..n], now),
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Poll::Ready(Err(error)) => self.reset(conn, &error, now),
            }
            self.flush(now);
        }
        // Out of reads with bytes perhaps left: back of the queue.
        if let Some(c) = self.connections.get(&conn) {
            c.waker.wake_by_ref();
        }
    }

    /// Does what the router asks after a `handle_*` call: acts on its events,
    /// then writes what it offers, until neither is left.
    fn flush(&mut self, now: Instant) {
        loop {
            while let Some(event) = self.router.poll_event() {
                self.apply(event);
            }
            let Some(transmit) = self.router.poll_transmit() else {
                return;
            };
            let conn = transmit.conn;
            let c = self
                .connections
                .get_mut(&conn)
                .expect("the router offers only connections it has not closed");
            let mut slices = [IoSlice::new(&[]); SLICES_PER_WRITE];
            let filled = transmit.io_slices(&mut slices);
            match c.socket.try_write_vectored(&slices[..filled]) {
                Ok(0) => self.reset(conn, &io::ErrorKind::WriteZero.into(), now),
                Ok(written) => self.router.handle_written(conn, written, now),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) =>
                {
                    self.router.handle_write_blocked(conn);
                    c.write_blocked = true;
                    // Its service polls for writability, registering the waker.
                    c.waker.wake_by_ref();
                }
                Err(error) => self.reset(conn, &error, now),
            }
        }
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::Close(conn) => {
                // Dropping the socket closes it; the runtime forgets its waker.
                if let Some(c) = self.connections.remove(&conn) {
                    debug!(conn = conn.id(), peer = %c.peer, "disconnected");
                }
            }
            Event::ResumeReading(conn) => {
                // Bytes may wait in the kernel with no new readiness to come:
                // service it on the next turn, which reads before it waits.
                if let Some(c) = self.connections.get(&conn) {
                    c.waker.wake_by_ref();
                }
            }
            // `wants_read` and `is_drained` say as much.
            Event::PauseReading(_) | Event::Drained => {}
        }
    }

    fn reset(&mut self, conn: ConnHandle, error: &io::Error, now: Instant) {
        debug!(conn = conn.id(), %error, "connection failed");
        self.router.handle_reset(conn, now);
    }
}
