//! The command line: one flag per [`Config`] field, in kebab case, plus where
//! to listen and which driver to run.

use std::net::SocketAddr;
use std::time::Duration;

use bytesize::ByteSize;
use clap::{Parser, ValueEnum};
use router_core::{Config, ConfigError, OverflowPolicy};

use crate::machine::default_max_buffered_bytes;

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

    /// Serve Prometheus metrics at http://ADDR/metrics (port 0: any free
    /// port, logged at start). Off by default.
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics_addr: Option<SocketAddr>,

    /// Log lines as human-readable text, or as JSON objects (one per line,
    /// fields at the top level) for a log shipper.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,

    /// Largest payload a frame may carry; a longer frame closes its sender.
    /// Sizes take 1048576, 1024KiB or 1MiB (KB and MB are powers of 1000).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "1MiB")]
    max_frame_bytes: usize,

    /// Bytes queued for one destination above which frames to it pause their
    /// sender (or are dropped, per --overflow-policy).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "1MiB")]
    outbound_high_water: usize,

    /// Bytes queued below which a destination's paused senders resume.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "256KiB")]
    outbound_low_water: usize,

    /// What to do with a frame for a destination above its high-water mark.
    #[arg(long, value_enum, value_name = "POLICY", default_value_t = Policy::Pause)]
    overflow_policy: Policy,

    /// How long a client may leave queued bytes unread before it is closed.
    /// Durations take 500ms, 2s, 1m 30s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    write_stall_timeout: Duration,

    /// Close a client that sent nothing and had nothing queued for this long,
    /// or "off".
    #[arg(long, value_name = "DURATION|off", value_parser = parse_idle_timeout, default_value = "off")]
    // Spelled out so that clap takes it as a value ("off" is `None`), not as
    // an optional flag.
    idle_timeout: ::std::option::Option<Duration>,

    /// Connections open at once; further ones are closed without an ID.
    #[arg(long, value_name = "COUNT", default_value_t = 100_000)]
    max_connections: usize,

    /// On shutdown, how long queued bytes may take to flush before every
    /// connection is closed anyway.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5s")]
    drain_timeout: Duration,

    /// How long to stop accepting after accept fails for want of a resource
    /// (out of file descriptors), which retrying at once would not cure.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "100ms")]
    accept_pause: Duration,

    /// Bytes all connections' buffers and queues may hold together. Over it,
    /// the senders of the largest unfinished frames are closed, and frames
    /// for destinations with bytes queued wait (or are dropped, per
    /// --overflow-policy). Default: a quarter of the machine's memory (or of
    /// the cgroup's memory.max, if lower).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value_t = default_max_buffered_bytes())]
    max_buffered_bytes: usize,
}

/// The event loops the router can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Driver {
    /// One thread on mio (epoll/kqueue).
    Mio,
    /// The tokio runtime.
    Tokio,
    /// The smol runtime.
    Smol,
}

impl Driver {
    /// Its name on the command line and in logs.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Driver::Mio => "mio",
            Driver::Tokio => "tokio",
            Driver::Smol => "smol",
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Text for people, in colour on a terminal.
    Text,
    /// One JSON object per line.
    Json,
}

/// [`OverflowPolicy`], as the command line spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Policy {
    /// Stop reading the sender until the destination drains: nothing is lost,
    /// but the sender's frames to other destinations wait too.
    Pause,
    /// Drop the frame and count it: senders never wait.
    Drop,
}

impl Cli {
    /// The router's configuration, checked as [`Router::new`] would check it.
    ///
    /// [`Router::new`]: router_core::Router::new
    pub(crate) fn config(&self) -> Result<Config, ConfigError> {
        let config = Config {
            max_frame_bytes: self.max_frame_bytes,
            outbound_high_water: self.outbound_high_water,
            outbound_low_water: self.outbound_low_water,
            overflow_policy: match self.overflow_policy {
                Policy::Pause => OverflowPolicy::Pause,
                Policy::Drop => OverflowPolicy::Drop,
            },
            write_stall_timeout: self.write_stall_timeout,
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections,
            drain_timeout: self.drain_timeout,
            accept_pause: self.accept_pause,
            max_buffered_bytes: self.max_buffered_bytes,
            ..Config::default()
        };
        config.validate()?;
        Ok(config)
    }
}

/// A [`ConfigError`]'s message, which names [`Config`] fields, with each
/// field named by its flag instead.
pub(crate) fn describe(error: &ConfigError) -> String {
    const FIELDS: [&str; 9] = [
        "max_frame_bytes",
        "outbound_high_water",
        "outbound_low_water",
        "write_stall_timeout",
        "idle_timeout",
        "max_connections",
        "drain_timeout",
        "accept_pause",
        "max_buffered_bytes",
    ];
    FIELDS.iter().fold(error.to_string(), |message, field| {
        message.replace(field, &format!("--{}", field.replace('_', "-")))
    })
}

fn parse_size(text: &str) -> Result<usize, String> {
    let size = text
        .parse::<ByteSize>()
        .map_err(|_| format!("{text:?} is not a size such as 65536, 64KiB or 1MiB"))?;
    usize::try_from(size.as_u64()).map_err(|_| format!("{text} is too large"))
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|error| format!("{text:?} is not a duration such as 500ms or 2s ({error})"))
}

fn parse_idle_timeout(text: &str) -> Result<Option<Duration>, String> {
    match text {
        "off" => Ok(None),
        _ => parse_duration(text).map(Some),
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(cli.metrics_addr, None);
        assert_eq!(cli.log_format, LogFormat::Text);
        let machine_budget = Config {
            max_buffered_bytes: default_max_buffered_bytes(),
            ..Config::default()
        };
        assert_eq!(cli.config().unwrap(), machine_budget);
    }

    #[test]
    fn every_flag_reaches_its_config_field() {
        let cli = parse(&[
            "--listen=0.0.0.0:9000",
            "--driver=tokio",
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
        assert_eq!(cli.metrics_addr, Some("127.0.0.1:9090".parse().unwrap()));
        assert_eq!(cli.log_format, LogFormat::Json);
        let config = cli.config().unwrap();
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
    fn sizes_take_iec_and_si_units() {
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("1 MiB"), Ok(1 << 20));
        assert_eq!(parse_size("64kib"), Ok(64 << 10));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("1 parsec").is_err());
        assert!(parse_size("-1").is_err());
    }

    #[test]
    fn durations_and_off() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("2").is_err(), "a unit is required");
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_idle_timeout("off"), Ok(None));
        assert_eq!(parse_idle_timeout("10s"), Ok(Some(Duration::from_secs(10))));
    }

    #[test]
    fn invalid_values_are_usage_errors() {
        for args in [
            &["--max-frame-bytes=big"][..],
            &["--drain-timeout=forever"],
            &["--overflow-policy=block"],
            &["--driver=uring"],
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
            cli.config(),
            Err(ConfigError::LowWaterAboveHighWater { .. })
        ));
        let cli = parse(&["--drain-timeout=0s"]).unwrap();
        let error = cli.config().unwrap_err();
        assert_eq!(
            error,
            ConfigError::ZeroDuration {
                field: "drain_timeout"
            }
        );
        assert_eq!(describe(&error), "--drain-timeout must be longer than zero");
        let cli = parse(&["--max-buffered-bytes=1KiB"]).unwrap();
        assert_eq!(
            describe(&cli.config().unwrap_err()),
            "--max-buffered-bytes (1024) must be at least --max-frame-bytes (1048576)"
        );
    }

    #[test]
    fn limit_errors_name_the_flags() {
        let error = ConfigError::LowWaterAboveHighWater { low: 2, high: 1 };
        assert_eq!(
            describe(&error),
            "--outbound-low-water (2) must not exceed --outbound-high-water (1)"
        );
    }
}
