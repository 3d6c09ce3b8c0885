//! Running the router on each driver, from bind to drained.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener};

use async_io::Async;
use router_core::{Config, Stats};
use tokio::sync::oneshot;

use crate::cli::Driver;
use crate::{logging, signals};

/// Serves on `listen` with the mio driver until a signal's drain completes,
/// handing the counters to `stats_observer`, if any, once per loop turn.
pub(crate) fn with_mio(
    listen: SocketAddr,
    config: Config,
    stats_observer: Option<impl FnMut(&Stats) + Send + 'static>,
) -> io::Result<Stats> {
    let mut server = driver_mio::Server::bind(listen, config.clone())
        .map_err(|error| cannot_listen(listen, error))?;
    if let Some(observer) = stats_observer {
        server = server.with_stats_observer(observer);
    }
    let shutdown = server.shutdown_handle();
    // Before the start line, so that a signal sent as soon as it is read
    // drains rather than kills.
    signals::on_termination(move || shutdown.shutdown())?;
    logging::listening(server.local_addr(), Driver::Mio, &config);
    server.run()
}

/// Serves on `listen` with the tokio driver, on a current-thread runtime (the
/// router is one task), until a signal's drain completes, handing the
/// counters to `stats_observer`, if any, once per loop turn.
pub(crate) fn with_tokio(
    listen: SocketAddr,
    config: Config,
    stats_observer: Option<impl FnMut(&Stats)>,
) -> io::Result<Stats> {
    let listener = bind(listen)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let shutdown = drain_on_termination()?;
    logging::listening(listener.local_addr()?, Driver::Tokio, &config);
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let observer = optional(stats_observer);
        driver_tokio::serve_with_stats_observer(listener, config, shutdown, observer).await
    })
}

/// Serves on `listen` with the smol driver, on this thread's `block_on`,
/// until a signal's drain completes, handing the counters to
/// `stats_observer`, if any, once per loop turn.
pub(crate) fn with_smol(
    listen: SocketAddr,
    config: Config,
    stats_observer: Option<impl FnMut(&Stats)>,
) -> io::Result<Stats> {
    let listener = Async::new(bind(listen)?)?;
    let shutdown = drain_on_termination()?;
    logging::listening(listener.get_ref().local_addr()?, Driver::Smol, &config);
    let observer = optional(stats_observer);
    async_io::block_on(driver_smol::serve_with_stats_observer(
        listener, config, shutdown, observer,
    ))
}

/// An async driver's observer: `observer`'s calls, or nothing.
fn optional(mut observer: Option<impl FnMut(&Stats)>) -> impl FnMut(&Stats) {
    move |stats| {
        if let Some(observer) = &mut observer {
            observer(stats);
        }
    }
}

/// The same listening socket as the mio driver's (its backlog sized for
/// bursts of connections), for the async drivers to adopt.
fn bind(listen: SocketAddr) -> io::Result<TcpListener> {
    driver_mio::listen(listen).map_err(|error| cannot_listen(listen, error))
}

fn cannot_listen(listen: SocketAddr, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("cannot listen on {listen}: {error}"))
}

/// A future that completes when SIGINT or SIGTERM first arrives. (tokio's
/// channels need no tokio runtime, so the smol driver awaits it too.)
fn drain_on_termination() -> io::Result<impl Future<Output = ()>> {
    let (start_drain, drain_started) = oneshot::channel();
    signals::on_termination(move || {
        let _ = start_drain.send(());
    })?;
    Ok(async {
        let _ = drain_started.await;
    })
}
