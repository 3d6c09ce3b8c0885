//! The router server: parses the command line, runs the chosen driver until
//! SIGINT or SIGTERM has drained it, and exits 0.
//!
//! Exit codes: 0 after a drain, 1 if serving failed (the address is taken, the
//! poller failed), 2 for a usage error (an invalid flag or inconsistent limits).

mod cli;
mod logging;
mod serve;
mod signals;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
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
    logging::init();
    let served = match cli.driver {
        Driver::Mio => serve::with_mio(cli.listen, config),
        Driver::Tokio | Driver::Smol => Cli::command()
            .error(
                ErrorKind::InvalidValue,
                format!(
                    "driver {} is not built yet; use --driver mio",
                    cli.driver.name()
                ),
            )
            .exit(),
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
