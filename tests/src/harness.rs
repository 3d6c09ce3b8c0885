//! Running a driver in-process, and bounding every wait.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::thread;
use std::time::Duration;

use std::sync::Arc;

use router::ShardedServer;
use router_core::{Config, Owner, Stats};
use router_tls::{TlsConfig, TlsCounters};
use tokio::sync::oneshot;

/// What a test runs the router on: an event loop, and how many shards
/// (threads, each with its own loop and router core) of it.
///
/// The suite runs each test on every driver with one shard and with two
/// ([`driver_tests!`](crate::driver_tests)). With two, clients that connect
/// one after another land on alternate shards (placement is least-loaded
/// first, ties round-robin), so the two clients of a pair are on different
/// shards and every frame between them crosses from one thread to the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Driver {
    /// The event loop.
    pub event_loop: router::Driver,
    /// Shards of it, each on a thread of its own.
    pub shards: usize,
}

// Named as `router::Driver`'s variants, so that a test reads the same
// whichever it is given.
#[allow(non_upper_case_globals)]
impl Driver {
    /// One mio loop.
    pub const Mio: Driver = Driver::one(router::Driver::Mio);
    /// One tokio task.
    pub const Tokio: Driver = Driver::one(router::Driver::Tokio);
    /// One smol task.
    pub const Smol: Driver = Driver::one(router::Driver::Smol);

    const fn one(event_loop: router::Driver) -> Driver {
        Driver {
            event_loop,
            shards: 1,
        }
    }

    /// The same loop, as `shards` shards.
    pub const fn sharded(self, shards: usize) -> Driver {
        Driver { shards, ..self }
    }

    /// The shard that owns client ID `id`.
    pub fn shard_of(self, id: u32) -> u32 {
        match router::shard_layout(self.shards, 0).owner_of(id) {
            Owner::Local => 0,
            Owner::Remote { shard, .. } => shard,
        }
    }

    /// The loop's name on the command line.
    pub fn name(self) -> &'static str {
        self.event_loop.name()
    }
}

/// The longest any single step of a test may take before it counts as hung.
/// Generous, so that a debug build on a loaded two-core machine never fails a
/// correct router; a lost frame or a missed wake-up still fails within it.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Awaits `future` for at most [`PATIENCE`]; on expiry, an error of kind
/// `TimedOut` that says what was being waited for.
pub async fn within<F: Future>(what: &str, future: F) -> io::Result<F::Output> {
    tokio::time::timeout(PATIENCE, future).await.map_err(|_| {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no {what} within {PATIENCE:?}"),
        )
    })
}

/// A router serving `127.0.0.1` on a thread of the test process.
///
/// Dropping it starts the router's shutdown without waiting for it, so a
/// failed test does not leave a router serving for the rest of the run.
#[must_use = "stop() the router to check that it drains and to read its counters"]
pub struct TestRouter {
    /// Where clients connect.
    pub addr: SocketAddr,
    shutdown: Option<Box<dyn FnOnce() + Send>>,
    finished: oneshot::Receiver<io::Result<Stats>>,
}

/// A driver's stats observer, as [`start_observed`] takes it.
type StatsObserver = Box<dyn FnMut(&Stats) + Send>;

/// Binds `127.0.0.1:0` and runs `driver` with `config` on its own thread.
pub fn start(driver: Driver, config: Config) -> io::Result<TestRouter> {
    launch(driver, config, Box::new(|_| {}), None)
}

/// As [`start_observed`], serving TLS with `tls` (see `router_tls`) on
/// every shard, each counting into `counters`.
pub fn start_tls(
    driver: Driver,
    config: Config,
    tls: &TlsConfig,
    counters: &Arc<TlsCounters>,
    observer: impl FnMut(&Stats) + Send + 'static,
) -> io::Result<TestRouter> {
    launch(driver, config, Box::new(observer), Some((tls, counters)))
}

/// As [`start`], with `observer` installed as the driver's stats observer
/// (called with the router's counters once per turn of its loop).
pub fn start_observed(
    driver: Driver,
    config: Config,
    observer: impl FnMut(&Stats) + Send + 'static,
) -> io::Result<TestRouter> {
    launch(driver, config, Box::new(observer), None)
}

fn launch(
    driver: Driver,
    config: Config,
    observer: StatsObserver,
    tls: Option<(&TlsConfig, &Arc<TlsCounters>)>,
) -> io::Result<TestRouter> {
    let listener = router::listen(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    let mut server = ShardedServer::new(driver.event_loop, listener, &config, driver.shards)?
        .with_stats_observer(observer);
    if let Some((tls, counters)) = tls {
        server = server.with_tls(tls, counters);
    }
    let addr = server.local_addr()?;
    let shutdown = server.shutdown_handle();
    TestRouter::spawn(
        driver,
        addr,
        move || shutdown.shutdown(),
        move || server.run(),
    )
}

impl TestRouter {
    /// Runs `serve` on a new thread; `shutdown` must make it return.
    fn spawn(
        driver: Driver,
        addr: SocketAddr,
        shutdown: impl FnOnce() + Send + 'static,
        serve: impl FnOnce() -> io::Result<Stats> + Send + 'static,
    ) -> io::Result<Self> {
        let (report, finished) = oneshot::channel();
        thread::Builder::new()
            .name(format!("router-{}-{}", driver.name(), driver.shards))
            .spawn(move || {
                // The test may have given up waiting: nobody to tell then.
                let _ = report.send(serve());
            })?;
        Ok(TestRouter {
            addr,
            shutdown: Some(Box::new(shutdown)),
            finished,
        })
    }

    /// Starts the router's shutdown without waiting for it: see
    /// [`stop`](Self::stop) for that.
    pub fn begin_shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            shutdown();
        }
    }

    /// Shuts the router down and waits for it to drain, which includes
    /// flushing what is queued to clients still reading (up to the config's
    /// `drain_timeout`). Returns its final counters.
    pub async fn stop(mut self) -> io::Result<Stats> {
        if let Some(shutdown) = self.shutdown.take() {
            shutdown();
        }
        match within("router drain after shutdown", &mut self.finished).await? {
            Ok(result) => result,
            Err(_) => Err(io::Error::other("the router thread panicked")),
        }
    }
}

impl Drop for TestRouter {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            shutdown();
        }
    }
}
