//! The public face of the driver: bind, run, stop.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mio::net::TcpListener;
use mio::{Interest, Poll, Waker};
use router_core::{Router, Stats};
use router_links::{AcceptGate, CoreLinks, Doorbell, PeerLinks, Wake};
use tracing::warn;

use crate::event_loop::{EventLoop, LISTENER, TlsSockets, WAKER};
use crate::sockets::Sockets;
use crate::stats_observer::StatsObserver;

/// A router serving a TCP listener, ready to [`run`](Self::run) on the
/// calling thread.
#[derive(Debug)]
pub struct Server {
    event_loop: EventLoop,
    local_addr: SocketAddr,
    shutdown: ShutdownHandle,
    doorbell: Arc<Doorbell>,
}

impl Server {
    /// A server for `router` on a bound `listener` (set non-blocking here).
    /// Nothing is accepted until [`run`](Self::run). Fails only if the
    /// poller cannot be made or the listener registered with it.
    pub fn new(listener: std::net::TcpListener, router: Router) -> io::Result<Server> {
        listener.set_nonblocking(true)?;
        let local_addr = listener.local_addr()?;
        let poll = Poll::new()?;
        let mut listener = TcpListener::from_std(listener);
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let shutdown = ShutdownHandle {
            requested: Arc::new(AtomicBool::new(false)),
            waker: Arc::new(Waker::new(poll.registry(), WAKER)?),
        };
        let doorbell = Arc::new(Doorbell::new(Box::new(WakeLoop(shutdown.waker.clone()))));
        let sockets = Sockets::new(listener);
        Ok(Server {
            local_addr,
            event_loop: EventLoop::new(poll, sockets, router, shutdown.requested.clone()),
            shutdown,
            doorbell,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local_addr)
    }

    /// Calls `observer` with the router's counters once per turn of the event
    /// loop, after the turn's work (so never per frame), the last time with
    /// the final counters once drained. For exporters: `observer` runs on the
    /// loop's thread, so it should only copy what it needs and return, as
    /// `router_metrics::StatsCell::publisher` does.
    pub fn with_stats_observer(mut self, observer: impl FnMut(&Stats) + Send + 'static) -> Server {
        self.event_loop.observe_stats(StatsObserver::new(observer));
        self
    }

    /// Serves clients over TLS: each accepted connection's handshake runs in
    /// `tls` (bounded by its `handshake_timeout` and `max_handshakes`), and
    /// the router gives it an ID only once the handshake completes; from
    /// then on every read and write passes through its session.
    pub fn with_tls(mut self, tls: router_tls::Tls) -> Server {
        self.event_loop.serve_tls_with(TlsSockets::new(tls));
        self
    }

    /// The doorbell that wakes this server's loop when it sleeps: for the
    /// links that bring its core batches from its peers, to ring.
    pub fn doorbell(&self) -> Arc<Doorbell> {
        self.doorbell.clone()
    }

    /// Links the router to its peer cores through `links`, whose deliveries
    /// ring [`doorbell`](Self::doorbell). Each turn the loop reports the
    /// links' changes and hands their batches to the router, which sends its
    /// own through them ([`Io::send_to_peer`](router_core::Io::send_to_peer)).
    pub fn with_peer_links(mut self, links: Box<dyn PeerLinks>) -> Server {
        let doorbell = self.doorbell.clone();
        self.event_loop.link_peers(CoreLinks::new(links, doorbell));
        self
    }

    /// Shares the listener with other loops (each with a listener
    /// `try_clone`d from one socket): this loop accepts only when `gate`
    /// says it is its turn, and passes the turn on with each connection it
    /// accepts. A turn passed to it by a ring of its
    /// [`doorbell`](Self::doorbell) is taken up even when no new connection
    /// comes to wake it.
    pub fn with_accept_gate(mut self, gate: Box<dyn AcceptGate>) -> Server {
        self.event_loop.share_listener(gate);
        self
    }

    /// A handle that stops this server from any thread, before or while it runs.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Serves on the calling thread until a [`ShutdownHandle::shutdown`] has
    /// been drained: the listener is closed, reading stops, what is queued is
    /// flushed for up to the config's `drain_timeout`, and every connection
    /// is closed. Returns the router's final counters.
    ///
    /// Fails only if the poller itself fails; errors of single connections
    /// close those connections and are counted in the [`Stats`].
    pub fn run(self) -> io::Result<Stats> {
        self.event_loop.run()
    }
}

/// The loop's waker, as its doorbell rings it.
struct WakeLoop(Arc<Waker>);

impl Wake for WakeLoop {
    fn wake(&self) {
        // The links are checked on every turn; the wake-up only makes that
        // turn come now.
        if let Err(error) = self.0.wake() {
            warn!(%error, "could not wake the event loop; peer batches wait for its next wake-up");
        }
    }
}

/// Starts a [`Server`]'s graceful shutdown from any thread.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    requested: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl ShutdownHandle {
    /// Asks the server to stop accepting and reading, flush what is queued,
    /// and return from [`Server::run`]. Returns at once; calling it again, or
    /// after the server has stopped, does nothing.
    pub fn shutdown(&self) {
        self.requested.store(true, Ordering::Release);
        // The flag is read on every turn of the loop; the wake-up only makes
        // that turn come now rather than at the next readiness event.
        if let Err(error) = self.waker.wake() {
            warn!(%error, "could not wake the event loop; shutdown begins at its next wake-up");
        }
    }
}
