//! Running the router on each driver, from bind to drained.

use std::io;
use std::net::SocketAddr;

use router_core::{Config, Stats};

use crate::cli::Driver;
use crate::{logging, signals};

/// Serves on `listen` with the mio driver until a signal's drain completes,
/// handing the counters to `stats_observer`, if any, once per loop turn.
pub(crate) fn with_mio(
    listen: SocketAddr,
    config: Config,
    stats_observer: Option<impl FnMut(&Stats) + Send + 'static>,
) -> io::Result<Stats> {
    let mut server = driver_mio::Server::bind(listen, config.clone()).map_err(|error| {
        io::Error::new(error.kind(), format!("cannot listen on {listen}: {error}"))
    })?;
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
