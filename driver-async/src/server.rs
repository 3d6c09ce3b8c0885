//! The router task: one loop, written once for every runtime, that owns the
//! router and every socket.

use std::future::poll_fn;
use std::io;
use std::marker::PhantomData;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use atomic_waker::AtomicWaker;
use router_core::{ConnHandle, Router, Stats};
use router_links::{AcceptGate, CoreLinks, Doorbell, PeerLinks, Wake};
use router_tls::{Tls, TlsLoop};
use tracing::debug;

use crate::Socket;
use crate::ready::Woken;
use crate::runtime::{Listener, Runtime, Timer};
use crate::shutdown::ShutdownHandle;
use crate::sockets::Sockets;

pub(crate) mod tls;

use tls::Held;

/// Bytes read at once, into one buffer for the whole task: an idle
/// connection holds no read buffer.
const SCRATCH_BYTES: usize = 64 * 1024;

/// Connections serviced per turn; the rest wait for the next turn, after
/// the runtime has run its other tasks.
const CONNECTIONS_PER_TURN: usize = 64;

/// Reads from one connection per turn (up to 512 KiB), so that a flooding
/// client cannot keep the task from the others.
const READS_PER_TURN: usize = 8;

/// Bytes read in one turn, from all connections together, before the turn
/// ends and the loop looks for new readiness: so that many flooding clients
/// at once cannot stretch a turn, and the latency of everyone else, past
/// about this much routing work. Connections left unserviced keep their place in the queue.
const READ_BYTES_PER_TURN: usize = 1024 * 1024;

/// Connections accepted per turn, so that a connection storm cannot starve
/// the connections already open.
const ACCEPTS_PER_TURN: usize = 256;

/// A called-back observer of the router's counters.
type StatsObserver = Box<dyn FnMut(&Stats) + Send>;

/// A router serving a TCP listener as one task of runtime `R`.
///
/// `driver-tokio` and `driver-smol` name it for their runtime
/// (`driver_tokio::Server`, `driver_smol::Server`); everything but the
/// runtime's socket, listener and timer is here.
pub struct Server<R: Runtime> {
    listener: TcpListener,
    router: Router,
    shutdown: ShutdownHandle,
    observer: Option<StatsObserver>,
    tls: Option<Tls>,
    /// Rung by the peer links; wakes the task through `task`.
    doorbell: Arc<Doorbell>,
    /// The router task's waker, registered before each wait, for the
    /// doorbell.
    task: Arc<AtomicWaker>,
    links: Option<Box<dyn PeerLinks>>,
    gate: Option<Box<dyn AcceptGate>>,
    runtime: PhantomData<R>,
}

impl<R: Runtime> std::fmt::Debug for Server<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("listener", &self.listener)
            .field("router", &self.router)
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> Server<R> {
    /// A server for `router` on a bound `listener` (set non-blocking here).
    /// Nothing is accepted until [`run`](Self::run).
    pub fn new(listener: TcpListener, router: Router) -> io::Result<Self> {
        listener.set_nonblocking(true)?;
        let task = Arc::new(AtomicWaker::new());
        Ok(Server {
            listener,
            router,
            shutdown: ShutdownHandle::default(),
            observer: None,
            tls: None,
            doorbell: Arc::new(Doorbell::new(Box::new(WakeTask(task.clone())))),
            task,
            links: None,
            gate: None,
            runtime: PhantomData,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A handle that starts the graceful shutdown from any thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// The doorbell that wakes the router task when it waits: for the links
    /// that bring its core batches from its peers, to ring.
    pub fn doorbell(&self) -> Arc<Doorbell> {
        self.doorbell.clone()
    }

    /// Links the router to its peer cores through `links`, whose deliveries
    /// ring [`doorbell`](Self::doorbell). Each turn the task reports the
    /// links' changes and hands their batches to the router, which sends its
    /// own through them ([`Io::send_to_peer`](router_core::Io::send_to_peer)).
    pub fn with_peer_links(mut self, links: Box<dyn PeerLinks>) -> Self {
        self.links = Some(links);
        self
    }

    /// Shares the listener with other loops (each with a listener
    /// `try_clone`d from one socket): this task accepts only when `gate`
    /// says it is its turn, and passes the turn on with each connection it
    /// accepts. A turn passed to it by a ring of its
    /// [`doorbell`](Self::doorbell) is taken up even when no new connection
    /// comes to wake it.
    pub fn with_accept_gate(mut self, gate: Box<dyn AcceptGate>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// Calls `observer` with the router's counters once per turn of the
    /// loop, after the turn's work (so never per frame), the last time with
    /// the final counters. It runs on the router's task: it should only copy
    /// what it needs and return, as `router_metrics::StatsCell::publisher`
    /// does.
    pub fn with_stats_observer(mut self, observer: impl FnMut(&Stats) + Send + 'static) -> Self {
        self.observer = Some(Box::new(observer));
        self
    }

    /// Serves clients over TLS: each accepted connection's handshake runs in
    /// `tls` (bounded by its `handshake_timeout` and `max_handshakes`), and
    /// the router gives it an ID only once the handshake completes; from
    /// then on every read and write passes through its session.
    pub fn with_tls(mut self, tls: Tls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Serves until a [`ShutdownHandle::shutdown`] has been drained: the
    /// listener is closed, reading stops, what is queued is flushed for up
    /// to the config's `drain_timeout`, and every connection is closed.
    /// Returns the router's final counters.
    ///
    /// Errors of single connections, and of `accept`, close those
    /// connections or pause accepting, and are counted; only adopting the
    /// listener can fail.
    pub async fn run(self) -> io::Result<Stats> {
        let mut sockets = Sockets::new(R::listener(self.listener)?);
        sockets.peers = self
            .links
            .map(|links| CoreLinks::new(links, self.doorbell.clone()));
        let mut task = RouterTask::<R> {
            timer: R::timer(),
            router: self.router,
            sockets,
            task: self.task,
            gate: self.gate,
            listener_armed: false,
            shutdown: self.shutdown,
            observer: self.observer,
            scratch: vec![0; SCRATCH_BYTES].into_boxed_slice(),
            tls: self.tls.map(TlsLoop::new),
        };
        Ok(poll_fn(|cx| task.poll_turn(cx)).await)
    }
}

/// The router task's waker, as the doorbell of its peer links rings it.
struct WakeTask(Arc<AtomicWaker>);

impl Wake for WakeTask {
    fn wake(&self) {
        self.0.wake();
    }
}

/// The router and the sockets of its connections, served by one task.
struct RouterTask<R: Runtime> {
    timer: R::Timer,
    router: Router,
    sockets: Sockets<R::Socket, R::Listener>,
    /// Where the doorbell of the peer links finds this task's waker.
    task: Arc<AtomicWaker>,
    /// Whose turn it is to accept, when cores share the listener.
    gate: Option<Box<dyn AcceptGate>>,
    /// The listener holds this task's waker for the next connection: its
    /// last `poll_accept` was `Pending`.
    listener_armed: bool,
    shutdown: ShutdownHandle,
    observer: Option<StatsObserver>,
    scratch: Box<[u8]>,
    /// With TLS on: the layer and the sockets it holds.
    tls: Option<TlsLoop<Held<R::Socket>>>,
}

impl<R: Runtime> RouterTask<R> {
    /// One turn: take in what happened (a shutdown request, new connections,
    /// sockets the runtime woke), drive the router once, and register `cx`
    /// with every source of the next turn. A turn that leaves work behind
    /// yields to the runtime and comes back at once.
    fn poll_turn(&mut self, cx: &mut Context<'_>) -> Poll<Stats> {
        let now = Instant::now();
        // Time is news like the rest, and comes first: an accept pause that
        // ended must end before this turn's accepts.
        self.router.handle_timeout(now);
        // The request is read before the peers' batches are taken in, and
        // acted on after: a batch a peer sent before the request came is
        // taken while this core still takes frames.
        let shutdown_requested =
            !self.router.is_shutting_down() && self.shutdown.poll_requested(cx).is_ready();
        if let Some(peers) = &mut self.sockets.peers {
            peers.after_wait();
            peers.take_in(&mut self.router, now);
        }
        if shutdown_requested {
            self.router.shutdown(now);
        }
        let accepts_left = self.accept(cx, now);
        self.serve_tls(now);
        self.service_ready(now);
        let mut next = self.router.drive(now, &mut self.sockets);
        if self.tls.is_some() {
            // Closes the drive made may linger; the handshakes' deadlines
            // wake the task too.
            self.serve_tls(now);
            next = match (next, self.tls_deadline()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        if let Some(gate) = &self.gate {
            gate.load(self.load());
        }
        if let Some(observer) = &mut self.observer {
            observer(self.router.stats());
        }
        if self.router.is_drained() {
            return Poll::Ready(self.router.stats().clone());
        }
        // The clock decides, not the timer alone: a runtime's timer may fire
        // late, early, or not at all while the task is busy (tokio's
        // cooperative budget).
        let timer_due = next.is_some_and(|at| self.timer.poll_at(cx, at).is_ready());
        let woken = self.sockets.ready.poll_woken(cx).is_ready();
        let mut peer_news = false;
        if !(timer_due || woken || accepts_left) {
            if let Some(peers) = &mut self.sockets.peers {
                // Registered before the doorbell hears the task sleeps, so
                // that a ring from then on wakes this task. A batch that came
                // meanwhile is taken in now and driven on the next turn.
                self.task.register(cx.waker());
                peer_news = peers.before_wait(&mut self.router, now);
            }
            // The turn to accept may have come meanwhile, its ring unheard:
            // the listener must hold this task's waker before it sleeps.
            peer_news |= self.wants_accept() && !self.listener_armed;
        }
        if timer_due || woken || accepts_left || peer_news {
            // Work is left: let the runtime run its other tasks, then come
            // back for another turn.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }

    /// Whether the task would accept now: it listens, the router wants
    /// connections, and it is this core's turn if cores share the listener.
    fn wants_accept(&self) -> bool {
        self.sockets.listener.is_some()
            && self.router.wants_accept()
            && self.gate.as_ref().is_none_or(|gate| gate.my_turn())
    }

    /// The connections this task holds, for the gate ([`TlsLoop::load`]).
    fn load(&self) -> u64 {
        TlsLoop::load(self.tls.as_ref(), &self.router)
    }

    /// Passes the listener's turn on after accepting (or refusing) a socket.
    fn pass_turn(&self) {
        if let Some(gate) = &self.gate {
            gate.took_turn(self.load());
        }
    }

    /// Accepts up to [`ACCEPTS_PER_TURN`] connections; returns whether the
    /// budget ran out with connections perhaps left in the backlog.
    fn accept(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        self.listener_armed = false;
        for _ in 0..ACCEPTS_PER_TURN {
            if !self.wants_accept() {
                return false;
            }
            let Some(listener) = &mut self.sockets.listener else {
                return false;
            };
            match listener.poll_accept(cx) {
                Poll::Pending => {
                    self.listener_armed = true;
                    return false;
                }
                Poll::Ready(Ok((socket, peer))) if self.tls.is_some() => {
                    self.admit_tls(socket, peer, now);
                    self.pass_turn();
                }
                Poll::Ready(Ok((socket, peer))) => {
                    let accepted = self.router.handle_accept(now);
                    self.pass_turn();
                    match accepted {
                        Ok(conn) => {
                            debug!(conn = conn.id(), %peer, "connected");
                            self.sockets.insert(conn, socket, peer, None);
                        }
                        // Dropping the socket closes it without a byte written.
                        Err(refused) => debug!(%peer, %refused, "refused"),
                    }
                }
                Poll::Ready(Err(error)) => self.router.handle_accept_error(&error, now),
            }
        }
        true
    }

    /// Services the connections woken longest ago, at most
    /// [`CONNECTIONS_PER_TURN`] of them and [`READ_BYTES_PER_TURN`] bytes.
    fn service_ready(&mut self, now: Instant) {
        let mut turn_bytes = 0;
        for _ in 0..CONNECTIONS_PER_TURN {
            if turn_bytes >= READ_BYTES_PER_TURN {
                return;
            }
            let conn = match self.sockets.ready.pop() {
                None => return,
                Some(Woken::Conn(conn)) => conn,
                Some(Woken::Pending(id)) => {
                    self.serve_pending(id, now);
                    continue;
                }
            };
            self.poll_writable(conn, now);
            turn_bytes += self.read(conn, now);
        }
    }

    /// If `conn` is waiting to write, checks whether it can now.
    fn poll_writable(&mut self, conn: ConnHandle, now: Instant) {
        let Some(c) = self.sockets.connections.get_mut(&conn) else {
            return;
        };
        if !c.write_blocked {
            return;
        }
        match c
            .socket
            .poll_write_ready(&mut Context::from_waker(&c.waker))
        {
            Poll::Pending => {}
            Poll::Ready(Ok(())) => {
                if let Some(session) = &mut c.session {
                    // A failure shows again on the next read or write.
                    let _ = session.flush(&mut tls::TryWrite(&c.socket));
                    if session.wants_flush() {
                        // Blocked again: the next service polls, which
                        // registers the waker.
                        c.waker.wake_by_ref();
                        return;
                    }
                }
                c.write_blocked = false;
                self.router.handle_writable(conn);
            }
            Poll::Ready(Err(error)) => self.reset(conn, &error, now),
        }
    }

    /// Reads `conn` until it would block, the router stops wanting its bytes,
    /// or [`READS_PER_TURN`] reads are done; returns the bytes read.
    fn read(&mut self, conn: ConnHandle, now: Instant) -> usize {
        let mut bytes = 0;
        for _ in 0..READS_PER_TURN {
            if !self.router.wants_read(conn) {
                return bytes; // Paused, at EOF or closed: nothing is armed for reading.
            }
            let Some(c) = self.sockets.connections.get_mut(&conn) else {
                return bytes;
            };
            let mut cx = Context::from_waker(&c.waker);
            match c.socket.poll_read(&mut cx, &mut self.scratch) {
                // Drained, and the waker is registered for the next bytes.
                Poll::Pending => return bytes,
                Poll::Ready(Ok(0)) => self.router.handle_eof(conn, now),
                Poll::Ready(Ok(n)) => {
                    bytes += n;
                    let read = &self.scratch[..n];
                    match (&mut c.session, &mut self.tls) {
                        (Some(session), Some(t)) => {
                            t.deliver(session, read, &mut self.router, conn, now);
                        }
                        _ => self.router.handle_input(conn, read, now),
                    }
                    // What it sent goes out before the next read: the frames
                    // of a flooding sender leave in steps of one read, not of
                    // its whole budget, and a ping-pong pair beside it waits
                    // for one read's routing at most.
                    self.router.drive(now, &mut self.sockets);
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(error)) => self.reset(conn, &error, now),
            }
        }
        // Out of reads with bytes perhaps left: back of the queue.
        if let Some(c) = self.sockets.connections.get(&conn) {
            c.waker.wake_by_ref();
        }
        bytes
    }

    fn reset(&mut self, conn: ConnHandle, error: &io::Error, now: Instant) {
        debug!(conn = conn.id(), %error, "connection failed");
        self.router.handle_reset(conn, now);
    }
}
