//! The router server as a library: one way to run a [`Router`] on any of the
//! project's drivers, used by the `router` binary and by the integration
//! suite alike, so that what the suite tests is what the binary runs.
//!
//! Every driver has the same shape (`Server::new(listener, router)`,
//! `shutdown_handle`, `with_stats_observer`, `run`); [`Server`] is that shape
//! with the driver chosen at run time. The async drivers run on a runtime of
//! their own, made here: a current-thread tokio runtime, or async-io's
//! `block_on`, since the router is one task.
//!
//! ```
//! use std::io::Read;
//! use std::net::TcpStream;
//! use std::thread;
//!
//! use router::{Driver, Server};
//! use router_core::{Config, Router};
//!
//! let listener = router::listen("127.0.0.1:0".parse()?)?;
//! let server = Server::new(Driver::Smol, listener, Router::new(Config::default())?)?;
//! let addr = server.local_addr()?;
//! let shutdown = server.shutdown_handle();
//! let running = thread::spawn(move || server.run());
//!
//! let mut client = TcpStream::connect(addr)?;
//! let mut id = [0; 4];
//! client.read_exact(&mut id)?;
//!
//! shutdown.shutdown();
//! let stats = running.join().expect("the router did not panic")?;
//! assert_eq!(stats.connections_accepted, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod listener;
mod placement;
mod shards;
mod stats_sum;

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use router_core::{Router, Stats};
use router_links::{AcceptGate, Doorbell, PeerLinks};

pub use listener::{LISTEN_BACKLOG, listen};
pub use shards::{
    NodePlace, RING_SLOTS, ShardedServer, Shards, ShardsShutdown, SplitError, shard_bits,
    shard_config, shard_layout, shard_tls_limits,
};

/// The event loops the router can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Driver {
    /// One thread on mio (epoll/kqueue).
    Mio,
    /// The tokio runtime.
    Tokio,
    /// The smol runtime.
    Smol,
}

impl Driver {
    /// Every driver, for running a test or a benchmark on each.
    pub const ALL: [Driver; 3] = [Driver::Mio, Driver::Tokio, Driver::Smol];

    /// Its name on the command line and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Driver::Mio => "mio",
            Driver::Tokio => "tokio",
            Driver::Smol => "smol",
        }
    }
}

/// A router serving a listener on the driver chosen at run time.
#[derive(Debug)]
pub enum Server {
    /// On [`Driver::Mio`]. Boxed: its event loop, router included, is inline
    /// and some hundreds of bytes larger than the others.
    Mio(Box<driver_mio::Server>),
    /// On [`Driver::Tokio`].
    Tokio(driver_tokio::Server),
    /// On [`Driver::Smol`].
    Smol(driver_smol::Server),
}

/// Starts a [`Server`]'s graceful shutdown from any thread.
#[derive(Debug, Clone)]
pub enum ShutdownHandle {
    /// The mio loop's.
    Mio(driver_mio::ShutdownHandle),
    /// The router task's, on tokio or smol.
    Async(driver_async::ShutdownHandle),
}

impl ShutdownHandle {
    /// Asks the server to drain and return from [`Server::run`]. Returns at
    /// once; calling it again, or after the server stopped, does nothing.
    pub fn shutdown(&self) {
        match self {
            ShutdownHandle::Mio(handle) => handle.shutdown(),
            ShutdownHandle::Async(handle) => handle.shutdown(),
        }
    }
}

impl Server {
    /// A server for `router` on `driver`, serving a bound `listener` (from
    /// [`listen`], say). Nothing is accepted until [`run`](Self::run).
    pub fn new(driver: Driver, listener: TcpListener, router: Router) -> io::Result<Server> {
        Ok(match driver {
            Driver::Mio => Server::Mio(Box::new(driver_mio::Server::new(listener, router)?)),
            Driver::Tokio => Server::Tokio(driver_tokio::Server::new(listener, router)?),
            Driver::Smol => Server::Smol(driver_smol::Server::new(listener, router)?),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Server::Mio(server) => server.local_addr(),
            Server::Tokio(server) => server.local_addr(),
            Server::Smol(server) => server.local_addr(),
        }
    }

    /// A handle that starts the graceful shutdown from any thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        match self {
            Server::Mio(server) => ShutdownHandle::Mio(server.shutdown_handle()),
            Server::Tokio(server) => ShutdownHandle::Async(server.shutdown_handle()),
            Server::Smol(server) => ShutdownHandle::Async(server.shutdown_handle()),
        }
    }

    /// The doorbell that wakes this server's loop when it waits, for the
    /// links that bring its core batches from its peers to ring.
    pub fn doorbell(&self) -> Arc<Doorbell> {
        match self {
            Server::Mio(server) => server.doorbell(),
            Server::Tokio(server) => server.doorbell(),
            Server::Smol(server) => server.doorbell(),
        }
    }

    /// Links the router to its peer cores through `links`, whose deliveries
    /// ring [`doorbell`](Self::doorbell).
    pub fn with_peer_links(self, links: Box<dyn PeerLinks>) -> Server {
        match self {
            Server::Mio(server) => Server::Mio(Box::new(server.with_peer_links(links))),
            Server::Tokio(server) => Server::Tokio(server.with_peer_links(links)),
            Server::Smol(server) => Server::Smol(server.with_peer_links(links)),
        }
    }

    /// Shares the listener with the other shards of the process (each with
    /// a listener `try_clone`d from one socket), accepting in turn.
    pub(crate) fn with_accept_gate(self, gate: Box<dyn AcceptGate>) -> Server {
        match self {
            Server::Mio(server) => Server::Mio(Box::new(server.with_accept_gate(gate))),
            Server::Tokio(server) => Server::Tokio(server.with_accept_gate(gate)),
            Server::Smol(server) => Server::Smol(server.with_accept_gate(gate)),
        }
    }

    /// Hands the router's counters to `observer` once per turn of the
    /// driver's loop (never per frame), the last time with the final ones.
    pub fn with_stats_observer(self, observer: impl FnMut(&Stats) + Send + 'static) -> Server {
        match self {
            Server::Mio(server) => Server::Mio(Box::new(server.with_stats_observer(observer))),
            Server::Tokio(server) => Server::Tokio(server.with_stats_observer(observer)),
            Server::Smol(server) => Server::Smol(server.with_stats_observer(observer)),
        }
    }

    /// Serves clients over TLS through `tls` (see `router_tls`), on any
    /// driver: a client gets its ID once its handshake completes.
    pub fn with_tls(self, tls: router_tls::Tls) -> Server {
        match self {
            Server::Mio(server) => Server::Mio(Box::new(server.with_tls(tls))),
            Server::Tokio(server) => Server::Tokio(server.with_tls(tls)),
            Server::Smol(server) => Server::Smol(server.with_tls(tls)),
        }
    }

    /// Serves on the calling thread until a [`ShutdownHandle::shutdown`] has
    /// been drained, and returns the router's final counters.
    pub fn run(self) -> io::Result<Stats> {
        match self {
            Server::Mio(server) => server.run(),
            Server::Tokio(server) => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(server.run()),
            Server::Smol(server) => async_io::block_on(server.run()),
        }
    }
}
