//! The router server: parses the command line, runs the chosen driver until
//! SIGINT or SIGTERM has drained it, and exits 0.
//!
//! Exit codes: 0 after a drain, 1 if serving failed (an address is taken, the
//! poller failed), 2 for a usage error (an invalid flag or inconsistent limits).

mod cli;
mod logging;
mod machine;
mod serve;
mod signals;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use router_metrics::{MetricsServer, StatsCell};
use tracing::error;

use crate::cli::{Cli, Driver};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = cli.config().unwrap_or_else(|error| {
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
    let stats_observer = metrics.as_ref().map(|_| stats.publisher());
    let served = match cli.driver {
        Driver::Mio => serve::with_mio(cli.listen, config, stats_observer),
        Driver::Tokio => serve::with_tokio(cli.listen, config, stats_observer),
        Driver::Smol => serve::with_smol(cli.listen, config, stats_observer),
    };
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
