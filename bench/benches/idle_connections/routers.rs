//! Each driver's router, running on its own thread as an application would
//! run it on its runtime.

use std::io;
use std::net::SocketAddr;
use std::thread::{self, JoinHandle};

pub(crate) use router::Driver;
use router::{Server, ShutdownHandle};
use router_core::{Config, Router, Stats};

pub(crate) struct RunningRouter {
    pub(crate) addr: SocketAddr,
    shutdown: ShutdownHandle,
    thread: JoinHandle<io::Result<Stats>>,
}

impl RunningRouter {
    /// Binds `127.0.0.1:0` (the same listener for every driver) and serves
    /// with the default configuration.
    pub(crate) fn start(driver: Driver) -> io::Result<Self> {
        let listener = router::listen(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let router = Router::new(Config::default()).expect("the default config is valid");
        let server = Server::new(driver, listener, router)?;
        Ok(RunningRouter {
            addr: server.local_addr()?,
            shutdown: server.shutdown_handle(),
            thread: thread::spawn(move || server.run()),
        })
    }

    pub(crate) fn stop(self) -> io::Result<Stats> {
        self.shutdown.shutdown();
        self.thread.join().expect("the router thread panicked")
    }
}
