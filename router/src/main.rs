//! The router server: parses the command line, runs the chosen driver until
//! SIGINT or SIGTERM has drained it, and exits 0.
//!
//! Exit codes: 0 after a drain, 1 if serving failed (an address is taken, the
//! poller failed), 2 for a usage error (an invalid flag or inconsistent limits).

mod cli;
mod cluster_flags;
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
use prometheus_client::collector::Collector;
use router::{NodePlace, ShardedServer, SplitError};
use router_cluster::{Bridge, ClusterCollector};
use router_core::{Config, ConfigError, Stats};
use router_metrics::{MetricsServer, StatsCell, TlsCollector};
use router_tls::{TlsConfig, TlsCounters};
use tracing::error;

use crate::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    let mut config = cli.config();
    let shards = cli.shards().count();
    // Joined before the cores are made: their layout and their batch bound
    // come from the cluster and its NATS server.
    let bridge = match cli.cluster.options(shards).map(Bridge::connect).transpose() {
        Ok(bridge) => bridge,
        Err(error) => {
            error!("{error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(bridge) = &bridge {
        config = cluster_flags::node_config(
            config,
            bridge.options(),
            bridge.max_payload(),
            cli.frame_limit_given(),
        );
    }
    // Every shard's share is checked here, for a usage error naming flags.
    router::shard_config(&config, shards, 0).unwrap_or_else(|error| {
        let hint = match error {
            SplitError::Config(ConfigError::FrameAboveBatch { .. }) => {
                " (max_batch_bytes is the NATS server's max_payload: lower \
                 --max-frame-bytes, or raise max_payload in the server's configuration)"
            }
            _ => "",
        };
        Cli::command()
            .error(
                ErrorKind::ValueValidation,
                format!("invalid limits: {}{hint}", cli::describe(&error)),
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
    let stats = StatsCell::new();
    let tls_counters = Arc::new(TlsCounters::default());
    let mut collectors: Vec<Box<dyn Collector>> = bridge
        .iter()
        .map(|bridge| {
            let node = bridge.options().node;
            Box::new(ClusterCollector::new(bridge.stats(), node)) as Box<dyn Collector>
        })
        .collect();
    collectors.push(Box::new(match &tls {
        None => TlsCollector::off(),
        Some(config) => TlsCollector::on(Arc::clone(&tls_counters), config.client_auth()),
    }));
    // Serves until dropped, at exit.
    let metrics = match cli
        .metrics_addr
        .map(|addr| MetricsServer::bind_with(addr, stats.clone(), collectors))
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
    let tls = tls.map(|config| (config, tls_counters));
    let served = serve(&cli, shards, &config, tls, stats_cell, bridge.as_ref());
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

/// Serves on `cli`'s address and driver with `shards` shards (counted once,
/// in `main`: `auto` asks the machine, and the bridge was given that
/// count's layout), as a node of `bridge`'s cluster if any, over `tls` if
/// any (every shard counting into its counters), until a signal's drain
/// completes, handing the counters (summed over the shards, and each
/// shard's) to `stats_cell`, if any, once per loop turn.
fn serve(
    cli: &Cli,
    shards: usize,
    config: &Config,
    tls: Option<(TlsConfig, Arc<TlsCounters>)>,
    stats_cell: Option<StatsCell>,
    bridge: Option<&Bridge>,
) -> io::Result<Stats> {
    let listener = router::listen(cli.listen).map_err(|error| cannot_listen(cli.listen, error))?;
    let mut server = match bridge {
        None => ShardedServer::new(cli.driver, listener, config, shards)?,
        Some(bridge) => {
            let options = bridge.options();
            let place = NodePlace {
                node: options.node,
                node_bits: options.node_bits,
            };
            ShardedServer::node(
                cli.driver,
                listener,
                config,
                shards,
                place,
                &mut |shard, bell| {
                    let links = bridge.links(shard as u32, bell).map_err(io::Error::other)?;
                    Ok(Box::new(links))
                },
            )?
        }
    };
    if let Some(cell) = stats_cell {
        server = server.with_stats_cell(cell);
    }
    let tls_mode = logging::TlsMode::of(tls.as_ref().map(|(config, _)| config));
    if let Some((tls, counters)) = tls {
        server = server.with_tls(&tls, &counters);
    }
    let shutdown = server.shutdown_handle();
    // Before the start line, so that a signal sent as soon as it is read
    // drains rather than kills.
    signals::on_termination(move || shutdown.shutdown())?;
    logging::listening(server.local_addr()?, cli.driver, shards, config, tls_mode);
    server.run()
}

fn cannot_listen(listen: SocketAddr, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("cannot listen on {listen}: {error}"))
}
