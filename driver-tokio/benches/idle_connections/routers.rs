//! Each driver's router, running on its own thread as an application would
//! run it on its runtime.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::thread::{self, JoinHandle};

use async_io::Async;
use router_core::{Config, Stats};
use tokio::sync::oneshot;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Driver {
    Tokio,
    Smol,
}

impl Driver {
    pub(crate) const ALL: [Driver; 2] = [Driver::Tokio, Driver::Smol];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Driver::Tokio => "tokio",
            Driver::Smol => "smol",
        }
    }
}

pub(crate) struct RunningRouter {
    pub(crate) addr: SocketAddr,
    // tokio's channels need no tokio runtime: this one also stops smol.
    stop: oneshot::Sender<()>,
    thread: JoinHandle<io::Result<Stats>>,
}

impl RunningRouter {
    pub(crate) fn start(driver: Driver) -> io::Result<Self> {
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async {
            let _ = stopped.await;
        };
        let config = Config::default();
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let thread = match driver {
            Driver::Tokio => thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(async {
                    listener.set_nonblocking(true)?;
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    driver_tokio::serve(listener, config, shutdown).await
                })
            }),
            Driver::Smol => thread::spawn(move || {
                let listener = Async::new(listener)?;
                async_io::block_on(driver_smol::serve(listener, config, shutdown))
            }),
        };
        Ok(RunningRouter { addr, stop, thread })
    }

    pub(crate) fn stop(self) -> io::Result<Stats> {
        let _ = self.stop.send(());
        self.thread.join().expect("the router thread panicked")
    }
}
