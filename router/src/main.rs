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

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use router::ShardedServer;
use router_core::{Config, Stats};
use router_metrics::{MetricsServer, StatsCell};
use tracing::error;

use crate::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = cli.config();
    // Every shard's share is checked here, for a usage error naming flags.
    router::shard_config(&config, cli.shards.count(), 0).unwrap_or_else(|error| {
        Cli::command()
            .error(
                ErrorKind::ValueValidation,
                format!("invalid limits: {}", cli::describe(&error)),
            )
            .exit()
    });
    logging::init(cli.log_format);
    let stats = StatsCell::new();
    // Serves until dropped, at exit.
    let metrics = match cli
        .metrics_addr
        .map(|addr| MetricsServer::bind(addr, stats.clone()))
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
    let stats_cell = metrics.as_ref().map(|_| stats);
    let served = serve(&cli, &config, stats_cell);
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

/// Serves on `cli`'s address, driver and shards until a signal's drain
/// completes, handing the counters (summed over the shards, and each
/// shard's) to
/// `stats_cell`, if any, once per loop turn.
fn serve(cli: &Cli, config: &Config, stats_cell: Option<StatsCell>) -> io::Result<Stats> {
    let listener = router::listen(cli.listen).map_err(|error| cannot_listen(cli.listen, error))?;
    let shards = cli.shards.count();
    let mut server = ShardedServer::new(cli.driver, listener, config, shards)?;
    if let Some(cell) = stats_cell {
        server = server.with_stats_cell(cell);
    }
    let shutdown = server.shutdown_handle();
    // Before the start line, so that a signal sent as soon as it is read
    // drains rather than kills.
    signals::on_termination(move || shutdown.shutdown())?;
    logging::listening(server.local_addr()?, cli.driver, shards, config);
    server.run()
}

fn cannot_listen(listen: SocketAddr, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("cannot listen on {listen}: {error}"))
}
