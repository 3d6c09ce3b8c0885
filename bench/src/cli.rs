//! Command-line flags.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::backends::BackendKind;
use crate::error::BenchError;
use crate::workloads::Phases;

/// Load generator for the router, Redis pub/sub, NATS and a serverless baseline.
/// Every message is verified (whole, in order, uncorrupted); faults are reported,
/// and a run with faults exits with status 3.
#[derive(Debug, Parser)]
#[command(name = "loadgen", version)]
pub(crate) struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub(crate) workload: Workload,
    /// Flags shared by every workload.
    #[command(flatten)]
    pub(crate) common: Common,
}

/// Flags shared by every workload.
#[derive(Debug, Args)]
pub(crate) struct Common {
    /// The system under test.
    #[arg(long, value_enum, default_value = "router", global = true)]
    pub(crate) backend: BackendKind,
    /// The server's address; loopback only (ignored by `direct`).
    #[arg(long, default_value = "127.0.0.1:7000", global = true)]
    pub(crate) addr: SocketAddr,
    /// Where senders connect, if not to --addr (router only): a second node
    /// of a cluster, so that every pair crosses nodes. Loopback only.
    #[arg(long, global = true)]
    pub(crate) send_addr: Option<SocketAddr>,
    /// Tag for the output, e.g. the router's driver (defaults to the backend name).
    #[arg(long, global = true)]
    pub(crate) label: Option<String>,
    /// Measurement window, seconds.
    #[arg(long, default_value_t = 5.0, global = true)]
    pub(crate) duration: f64,
    /// Warm-up before measuring, seconds.
    #[arg(long, default_value_t = 1.0, global = true)]
    pub(crate) warmup: f64,
    /// How long after the window receivers wait for messages in flight, seconds;
    /// whatever has not arrived by then counts as lost.
    #[arg(long, default_value_t = 5.0, global = true)]
    pub(crate) grace: f64,
    /// Connect over TLS, trusting the CAs in this PEM file (router and nats
    /// backends; the server's certificate must be for `localhost`).
    #[arg(long, value_name = "FILE", global = true)]
    pub(crate) tls_ca: Option<std::path::PathBuf>,
    /// Where the router's two clients of a pair live, by the shard bits of
    /// their IDs (with --shards): on the same shard, across shards, or
    /// wherever placement puts them.
    #[arg(long, value_enum, default_value = "any", global = true)]
    pub(crate) placement: Placement,
    /// The router's shards, whose index is in the high bits of its IDs
    /// (see --placement).
    #[arg(long, default_value_t = 1, global = true)]
    pub(crate) shards: u32,
    /// PID of the server, to report its CPU time and memory from /proc.
    #[arg(long, global = true)]
    pub(crate) server_pid: Option<u32>,
    /// Output: JSON line on stdout, text line on stderr, or both.
    #[arg(long, value_enum, default_value = "both", global = true)]
    pub(crate) format: Format,
}

/// Where the two clients of a pair are placed among the router's shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Placement {
    /// Wherever the router places them.
    Any,
    /// On the same shard.
    Same,
    /// On different shards.
    Cross,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// JSON on stdout and text on stderr.
    Both,
    /// JSON on stdout only.
    Json,
    /// Text on stdout only.
    Table,
}

/// The workloads.
#[derive(Debug, Subcommand)]
pub(crate) enum Workload {
    /// P pairs, each sender streaming to its partner with a bounded window.
    Pairs(StreamArgs),
    /// P pairs doing one round trip at a time.
    Pingpong {
        /// Number of pairs.
        #[arg(long, short = 'p', default_value_t = 1)]
        pairs: u32,
        /// Payload bytes per message (at least 25).
        #[arg(long, short = 's', default_value_t = 64)]
        size: usize,
    },
    /// Many senders to one receiver.
    Fanin {
        /// Number of senders.
        #[arg(long, short = 'n', default_value_t = 16)]
        senders: u32,
        /// Payload bytes per message (at least 25).
        #[arg(long, short = 's', default_value_t = 64)]
        size: usize,
        /// Most messages in flight per sender.
        #[arg(long, short = 'w', default_value_t = 128)]
        window: u64,
    },
    /// Open N connections, report the server's memory, hold them.
    Idle {
        /// Connections to open.
        #[arg(long, short = 'c', default_value_t = 10_000)]
        connections: u32,
        /// Seconds to hold them after reporting.
        #[arg(long, default_value_t = 0.0)]
        hold: f64,
        /// Connection attempts in flight at once.
        #[arg(long, default_value_t = 128)]
        concurrency: usize,
    },
    /// `pairs` plus one subscriber that never reads, flooded by one sender.
    Slow {
        /// The well-behaved pairs.
        #[command(flatten)]
        stream: StreamArgs,
        /// Payload bytes per flood message.
        #[arg(long, default_value_t = 16 * 1024)]
        flood_size: usize,
    },
    /// One ping-pong pair, alone and beside a pair streaming large messages, in
    /// alternating phases (quiet, flood, quiet, ...) of one run.
    Fairness {
        /// Payload bytes per ping (at least 25).
        #[arg(long, short = 's', default_value_t = 64)]
        size: usize,
        /// Payload bytes per flood message.
        #[arg(long, default_value_t = 64 * 1024)]
        flood_size: usize,
        /// Most flood messages in flight.
        #[arg(long, default_value_t = 64)]
        flood_window: u64,
        /// Caps the flood at this many MiB/s (0: as fast as the server takes
        /// it), so that servers of different speeds are compared moving the
        /// same bytes beside the pair.
        #[arg(long, default_value_t = 0.0)]
        flood_rate: f64,
        /// Length of each phase, seconds.
        #[arg(long, default_value_t = 0.25)]
        phase: f64,
        /// Start of each phase left out of the measurement, seconds: a flood still
        /// draining, or starting up.
        #[arg(long, default_value_t = 0.05)]
        settle: f64,
    },
}

/// Flags of a windowed streaming workload.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct StreamArgs {
    /// Number of pairs.
    #[arg(long, short = 'p', default_value_t = 1)]
    pub(crate) pairs: u32,
    /// Payload bytes per message (at least 25).
    #[arg(long, short = 's', default_value_t = 64)]
    pub(crate) size: usize,
    /// Most messages in flight per sender.
    #[arg(long, short = 'w', default_value_t = 128)]
    pub(crate) window: u64,
}

/// Time allowed for opening connections before a run starts, seconds.
const SETUP_LIMIT_SECS: f64 = 120.0;

impl Cli {
    /// An upper bound on the whole process, whatever the server does: connection
    /// setup, the phases, draining and holding, with room to spare. Every wait inside
    /// a run has its own deadline; this one also covers a server that accepts
    /// connections and then never answers.
    pub(crate) fn time_limit(&self) -> Duration {
        let hold = match self.workload {
            Workload::Idle { hold, .. } => hold,
            _ => 0.0,
        };
        let c = &self.common;
        let secs = SETUP_LIMIT_SECS
            + c.warmup.max(0.0)
            + c.duration.max(0.0)
            + 2.0 * c.grace.max(0.0)
            + hold.max(0.0);
        Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
    }
}

impl Common {
    /// The phases, validated.
    pub(crate) fn phases(&self) -> Result<Phases, BenchError> {
        let phases = Phases {
            warmup: seconds("warmup", self.warmup)?,
            duration: seconds("duration", self.duration)?,
            grace: seconds("grace", self.grace)?,
        };
        if phases.duration.is_zero() {
            return Err(BenchError::Usage("--duration must be positive".into()));
        }
        Ok(phases)
    }

    /// The server address, refused unless it is on this machine's loopback.
    pub(crate) fn loopback_addr(&self) -> Result<String, BenchError> {
        loopback("addr", self.addr)
    }

    /// `--send-addr`, if given, checked like `--addr`.
    pub(crate) fn loopback_send_addr(&self) -> Result<Option<String>, BenchError> {
        self.send_addr
            .map(|addr| loopback("send-addr", addr))
            .transpose()
    }
}

/// `addr`, the value of flag `--name`, if it is on this machine.
fn loopback(name: &str, addr: SocketAddr) -> Result<String, BenchError> {
    if !addr.ip().is_loopback() {
        return Err(BenchError::Usage(format!(
            "--{name} {addr} is not a loopback address: the load generator only targets this machine"
        )));
    }
    Ok(addr.to_string())
}

/// The value of flag `--name`, in seconds, as a duration.
/// `mib_per_s` as bytes per second, `None` for 0 (no cap), for flag `--name`.
pub(crate) fn rate(name: &str, mib_per_s: f64) -> Result<Option<f64>, BenchError> {
    match mib_per_s {
        0.0 => Ok(None),
        rate if rate.is_finite() && rate > 0.0 => Ok(Some(rate * 1024.0 * 1024.0)),
        _ => Err(BenchError::Usage(format!(
            "--{name} must be a non-negative number of MiB/s"
        ))),
    }
}

/// `value` seconds as a [`Duration`], for flag `--name`.
pub(crate) fn seconds(name: &str, value: f64) -> Result<Duration, BenchError> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| BenchError::Usage(format!("--{name} must be a non-negative number")))
}
