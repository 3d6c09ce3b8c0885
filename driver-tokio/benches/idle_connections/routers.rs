//! Each driver's router, running on its own thread as an application would
//! run it on its runtime.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::thread::{self, JoinHandle};

use async_io::Async;
use router_core::{Config, Stats};
use tokio::sync::oneshot;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Driver {
    Mio,
    Tokio,
    Smol,
}

impl Driver {
    pub(crate) const ALL: [Driver; 3] = [Driver::Mio, Driver::Tokio, Driver::Smol];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Driver::Mio => "mio",
            Driver::Tokio => "tokio",
            Driver::Smol => "smol",
        }
    }
}

pub(crate) struct RunningRouter {
    pub(crate) addr: SocketAddr,
    stop: Box<dyn FnOnce()>,
    thread: JoinHandle<io::Result<Stats>>,
}

impl RunningRouter {
    /// Binds `127.0.0.1:0` (the same listener for every driver) and serves
    /// with the default configuration.
    pub(crate) fn start(driver: Driver) -> io::Result<Self> {
        let config = Config::default();
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        match driver {
            Driver::Mio => {
                let server = driver_mio::Server::bind(any_port, config)?;
                let (addr, shutdown) = (server.local_addr(), server.shutdown_handle());
                Ok(Self::spawn(
                    addr,
                    move || shutdown.shutdown(),
                    || server.run(),
                ))
            }
            Driver::Tokio => {
                let listener = driver_mio::listen(any_port)?;
                let addr = listener.local_addr()?;
                let (stop, shutdown) = stop_signal();
                Ok(Self::spawn(addr, stop, move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    runtime.block_on(async {
                        let listener = tokio::net::TcpListener::from_std(listener)?;
                        driver_tokio::serve(listener, config, shutdown).await
                    })
                }))
            }
            Driver::Smol => {
                let listener = Async::new(driver_mio::listen(any_port)?)?;
                let addr = listener.get_ref().local_addr()?;
                let (stop, shutdown) = stop_signal();
                Ok(Self::spawn(addr, stop, move || {
                    async_io::block_on(driver_smol::serve(listener, config, shutdown))
                }))
            }
        }
    }

    fn spawn(
        addr: SocketAddr,
        stop: impl FnOnce() + 'static,
        serve: impl FnOnce() -> io::Result<Stats> + Send + 'static,
    ) -> Self {
        RunningRouter {
            addr,
            stop: Box::new(stop),
            thread: thread::spawn(serve),
        }
    }

    pub(crate) fn stop(self) -> io::Result<Stats> {
        (self.stop)();
        self.thread.join().expect("the router thread panicked")
    }
}

/// A stop call and the shutdown future it completes, for the async drivers.
/// (tokio's channels need no tokio runtime: smol awaits one too.)
fn stop_signal() -> (impl FnOnce(), impl Future<Output = ()> + Send) {
    let (stop, stopped) = oneshot::channel::<()>();
    let stop = move || {
        let _ = stop.send(());
    };
    let shutdown = async {
        let _ = stopped.await;
    };
    (stop, shutdown)
}
