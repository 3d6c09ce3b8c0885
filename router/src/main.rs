//! The router server: parses the command line, runs the chosen driver until
//! SIGINT or SIGTERM has drained it, and exits 0.
//!
//! Exit codes: 0 after a drain, 1 if serving failed (an address is taken, the
//! poller failed), 2 for a usage error (an invalid flag or inconsistent limits).

mod cli;
mod limit_flags;
mod logging;
mod machine;
mod signals;
mod tls_flags;

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use router::Server;
use router_core::{Router, Stats};
use router_metrics::{MetricsServer, StatsCell, TlsCollector, registry};
use router_tls::{Tls, TlsCounters};
use tracing::error;

use crate::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = cli.config();
    let router = Router::new(config.clone()).unwrap_or_else(|error| {
        Cli::command()
            .error(
                ErrorKind::ValueValidation,
                format!("invalid limits: {}", cli::describe(&error)),
            )
            .exit()
    });
    let tls = cli.tls.config().unwrap_or_else(|error| {
        Cli::command()
            .error(
                ErrorKind::ValueValidation,
                format!("invalid TLS files: {error}"),
            )
            .exit()
    });
    logging::init(cli.log_format);
    let stats = StatsCell::new();
    let tls_counters = Arc::new(TlsCounters::default());
    let mut metrics_registry = registry(stats.clone());
    metrics_registry.register_collector(Box::new(match &tls {
        None => TlsCollector::off(),
        Some(config) => TlsCollector::on(Arc::clone(&tls_counters), config.client_auth()),
    }));
    // Serves until dropped, at exit.
    let metrics = match cli
        .metrics_addr
        .map(|addr| MetricsServer::bind_registry(addr, metrics_registry))
        .transpose()
    {
        Ok(metrics) => metrics,
        Err(error) => {
            error!("{error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(metrics) = &metrics {
        logging::serving_metrics(metrics.local_addr());
    }
    let stats_observer = metrics.as_ref().map(|_| stats.publisher());
    let tls = tls.map(|config| Tls::new(config, tls_counters));
    let served = serve(&cli, router, tls, stats_observer);
    match served {
        Ok(stats) => {
            logging::stopped(&stats);
            ExitCode::SUCCESS
        }
        Err(error) => {
            error!("{error}");
            ExitCode::FAILURE
        }
    }
}

/// Serves on `cli`'s address and driver, over `tls` if any, until a
/// signal's drain completes, handing the counters to `stats_observer`, if
/// any, once per loop turn.
fn serve(
    cli: &Cli,
    router: Router,
    tls: Option<Tls>,
    stats_observer: Option<impl FnMut(&Stats) + Send + 'static>,
) -> io::Result<Stats> {
    let listener = router::listen(cli.listen).map_err(|error| cannot_listen(cli.listen, error))?;
    let config = router.config().clone();
    let mut server = Server::new(cli.driver, listener, router)?;
    if let Some(observer) = stats_observer {
        server = server.with_stats_observer(observer);
    }
    let tls_mode = logging::TlsMode::of(tls.as_ref().map(Tls::config));
    if let Some(tls) = tls {
        server = server.with_tls(tls);
    }
    let shutdown = server.shutdown_handle();
    // Before the start line, so that a signal sent as soon as it is read
    // drains rather than kills.
    signals::on_termination(move || shutdown.shutdown())?;
    logging::listening(server.local_addr()?, cli.driver, &config, tls_mode);
    server.run()
}

fn cannot_listen(listen: SocketAddr, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("cannot listen on {listen}: {error}"))
}
