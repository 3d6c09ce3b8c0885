//! The command line: where to listen, which driver to run, how to log and
//! serve metrics, and one flag per limit ([`LimitFlags`]).

use std::net::SocketAddr;

use clap::{Parser, ValueEnum};
use router::{Driver, Shards};
use router_core::Config;

use crate::cluster_flags::ClusterFlags;
use crate::limit_flags::{LimitFlags, flag};
use crate::tls_flags::TlsFlags;

/// A TCP message router: each client is sent its ID, then every frame
/// `[dest: u32][payload][0x00]` it sends is delivered to client `dest`.
///
/// SIGINT or SIGTERM stops accepting, flushes what is queued for up to
/// --drain-timeout, and exits 0. Logs go to stderr; set their level with
/// RUST_LOG (default: info; debug adds a line per connection and close).
#[derive(Debug, Parser)]
#[command(version)]
pub(crate) struct Cli {
    /// Address to listen on (port 0: any free port, logged at start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,

    /// Event loop to run the router on.
    #[arg(long, value_enum, default_value_t = Driver::Mio)]
    pub(crate) driver: Driver,

    /// Router cores to run, one thread and one event loop each: a number,
    /// or `auto` for one per CPU this process may use. Connections are
    /// spread over them least-loaded first; frames between clients of two
    /// shards cross between their threads in batches. --max-connections
    /// and --max-buffered-bytes are split among the shards. Default: `auto`,
    /// but 1 for a cluster node (--nats), since every node must have the
    /// same layout and `auto` would make it depend on each machine's CPUs
    /// (README, "Shards").
    #[arg(long, value_name = "N|auto")]
    shards: Option<Shards>,

    /// Serve Prometheus metrics at http://ADDR/metrics (port 0: any free
    /// port, logged at start). Off by default.
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics_addr: Option<SocketAddr>,

    /// Log lines as human-readable text, or as JSON objects (one per line,
    /// fields at the top level) for a log shipper.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,

    /// The router's limits, one flag each.
    #[command(flatten)]
    limits: LimitFlags,

    /// TLS for client connections.
    #[command(flatten)]
    pub(crate) tls: TlsFlags,
    /// Joining a cluster through NATS.
    #[command(flatten)]
    pub(crate) cluster: ClusterFlags,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Text for people, in colour on a terminal.
    Text,
    /// One JSON object per line.
    Json,
}

impl Cli {
    /// The router's configuration, which [`Router::new`] checks.
    ///
    /// [`Router::new`]: router_core::Router::new
    pub(crate) fn config(&self) -> Config {
        self.limits.0.clone()
    }

    /// The shards to run: as given, or the default for a router alone
    /// (`auto`, the machine used) or for a cluster node (1, so that the ID
    /// layout every node must share is not the machine's CPU count).
    pub(crate) fn shards(&self) -> Shards {
        self.shards.unwrap_or(match self.cluster.nats {
            None => Shards::Auto,
            Some(_) => Shards::ONE,
        })
    }

    /// Whether `--max-frame-bytes` was given, rather than left to its
    /// default (which a cluster node fits to the NATS server's payload).
    pub(crate) fn frame_limit_given(&self) -> bool {
        self.limits.1.contains(&"max_frame_bytes")
    }
}

/// A [`ConfigError`](router_core::ConfigError)'s (or a
/// [`SplitError`](router::SplitError)'s) message, which names
/// [`Config`] fields, with each field named by its flag instead.
pub(crate) fn describe(error: &impl std::fmt::Display) -> String {
    Config::LIMITS
        .iter()
        .fold(error.to_string(), |message, limit| {
            message.replace(limit.name, &format!("--{}", flag(limit)))
        })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use router_core::{ConfigError, OverflowPolicy};

    use super::*;
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(["router"].iter().chain(args))
    }

    #[test]
    fn the_command_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_flags_give_the_default_config() {
        let cli = parse(&[]).unwrap();
        assert_eq!(cli.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(cli.driver, Driver::Mio);
        assert_eq!(cli.shards(), Shards::Auto);
        assert_eq!(cli.metrics_addr, None);
        assert_eq!(cli.log_format, LogFormat::Text);
        assert_eq!(cli.config(), crate::machine::defaults());
    }

    #[test]
    fn every_flag_reaches_its_config_field() {
        let cli = parse(&[
            "--listen=0.0.0.0:9000",
            "--driver=tokio",
            "--shards=4",
            "--metrics-addr=127.0.0.1:9090",
            "--log-format=json",
            "--max-frame-bytes=64KiB",
            "--outbound-high-water=2MiB",
            "--outbound-low-water=1000",
            "--overflow-policy=drop",
            "--write-stall-timeout=500ms",
            "--idle-timeout=1m 30s",
            "--max-connections=10",
            "--drain-timeout=2s",
            "--accept-pause=1s",
            "--max-buffered-bytes=512MiB",
        ])
        .unwrap();
        assert_eq!(cli.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(cli.driver, Driver::Tokio);
        assert_eq!(cli.shards(), "4".parse().unwrap());
        assert_eq!(cli.metrics_addr, Some("127.0.0.1:9090".parse().unwrap()));
        assert_eq!(cli.log_format, LogFormat::Json);
        let config = cli.config();
        assert_eq!(
            config,
            Config {
                max_frame_bytes: 64 * 1024,
                outbound_high_water: 2 * 1024 * 1024,
                outbound_low_water: 1000,
                overflow_policy: OverflowPolicy::Drop,
                write_stall_timeout: Duration::from_millis(500),
                idle_timeout: Some(Duration::from_secs(90)),
                max_connections: 10,
                drain_timeout: Duration::from_secs(2),
                accept_pause: Duration::from_secs(1),
                max_buffered_bytes: 512 << 20,
                ..Config::default()
            }
        );
    }

    #[test]
    fn the_cluster_flags_make_the_bridge_options() {
        let cli = parse(&[]).unwrap();
        assert_eq!(cli.cluster.options(1).map(|o| o.url), None, "a lone router");
        assert!(!cli.frame_limit_given());
        let cli = parse(&[
            "--nats=nats://127.0.0.1:4222",
            "--nats-token=secret",
            "--node=5",
            "--node-bits=3",
            "--max-frame-bytes=1000",
        ])
        .unwrap();
        // A node's default layout must not depend on its machine's CPUs.
        assert_eq!(cli.shards(), Shards::ONE);
        let options = cli.cluster.options(3).expect("a node");
        assert_eq!((options.shards, options.shard_bits), (3, 2));
        assert_eq!(options.url, "nats://127.0.0.1:4222");
        assert_eq!(
            options.auth,
            router_cluster::NatsAuth::Token("secret".into())
        );
        assert_eq!((options.node, options.node_bits), (5, 3));
        assert!(cli.frame_limit_given());
        for args in [
            &["--nats-token=secret"][..],
            &["--node=1"],
            &["--nats=nats://h", "--nats-token=t", "--nats-creds=f"],
            &["--nats=nats://h", "--node-bits=17"],
        ] {
            assert_eq!(parse(args).unwrap_err().exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn invalid_values_are_usage_errors() {
        for args in [
            &["--max-frame-bytes=big"][..],
            &["--drain-timeout=forever"],
            &["--overflow-policy=block"],
            &["--driver=uring"],
            &["--shards=0"],
            &["--shards=many"],
            &["--metrics-addr=9090"],
            &["--log-format=xml"],
            &["--listen=localhost"],
            &["--max-connections=-1"],
        ] {
            let error = parse(args).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{args:?}");
            assert!(
                matches!(
                    error.kind(),
                    ErrorKind::ValueValidation | ErrorKind::InvalidValue
                ),
                "{args:?}: {error}"
            );
        }
    }

    #[test]
    fn inconsistent_limits_are_refused() {
        let cli = parse(&["--outbound-low-water=2MiB"]).unwrap();
        assert!(matches!(
            cli.config().validate(),
            Err(ConfigError::LowWaterAboveHighWater { .. })
        ));
        let cli = parse(&["--drain-timeout=0s"]).unwrap();
        let error = cli.config().validate().unwrap_err();
        assert_eq!(
            error,
            ConfigError::ZeroDuration {
                field: "drain_timeout"
            }
        );
        assert_eq!(describe(&error), "--drain-timeout must be longer than zero");
    }

    #[test]
    fn limits_that_cannot_be_split_over_the_shards_are_refused() {
        let cli = parse(&["--shards=4", "--max-connections=3"]).unwrap();
        let error = router::shard_config(&cli.config(), cli.shards().count(), 0).unwrap_err();
        assert_eq!(
            describe(&error),
            "--max-connections (3) must be at least the number of shards (4)"
        );
        assert_eq!(parse(&["--shards=auto"]).unwrap().shards(), Shards::Auto);
    }

    #[test]
    fn limit_errors_name_the_flags() {
        let error = ConfigError::LowWaterAboveHighWater { low: 2, high: 1 };
        assert_eq!(
            describe(&error),
            "--outbound-low-water (2) must not exceed --outbound-high-water (1)"
        );
        let error = ConfigError::BudgetBelowFrameLimit {
            budget: 1024,
            frame: 2048,
        };
        assert_eq!(
            describe(&error),
            "--max-buffered-bytes (1024) must be at least --max-frame-bytes (2048)"
        );
    }
}
