//! What the server logs about itself: where it listens, with which limits,
//! and what it did by the time it stopped.

use std::io::IsTerminal;
use std::net::SocketAddr;

use router_core::{CloseCause, Config, DropCause, Stats};
use router_metrics::METRICS_PATH;
use router_tls::TlsConfig;
use tracing::info;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;

use router::Driver;

use crate::cli::LogFormat;

/// Logs to stderr at the level `RUST_LOG` asks for (default info). Text is in
/// colour only on a terminal, so that redirected logs stay plain; JSON puts
/// each event's fields (`conn`, `peer`, `cause`, …) at the top level of its
/// object, beside `timestamp`, `level`, `target` and `message`, where log
/// stores index them.
pub(crate) fn init(format: LogFormat) {
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .from_env_lossy();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
}

/// Whether clients connect over TLS, for the start line's `tls` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TlsMode {
    /// Plain TCP.
    Off,
    /// TLS, any client.
    On,
    /// TLS with client certificates from `--tls-client-ca` (mutual TLS).
    ClientAuth,
}

impl TlsMode {
    pub(crate) fn of(config: Option<&TlsConfig>) -> TlsMode {
        match config {
            None => TlsMode::Off,
            Some(config) if config.client_auth() => TlsMode::ClientAuth,
            Some(_) => TlsMode::On,
        }
    }

    fn name(self) -> &'static str {
        match self {
            TlsMode::Off => "off",
            TlsMode::On => "on",
            TlsMode::ClientAuth => "on, client certificates required",
        }
    }
}

/// The start line. Tests and scripts find the port in its `listening on ADDR`.
/// Its `tls` field says whether clients connect over TLS, and whether they
/// must present a certificate; its `limits` field lists every limit
/// ([`Config::LIMITS`]) as `name=value`, space-separated.
pub(crate) fn listening(
    addr: SocketAddr,
    driver: Driver,
    shards: usize,
    config: &Config,
    tls: TlsMode,
) {
    let limits: Vec<String> = Config::LIMITS
        .iter()
        .map(|limit| format!("{}={}", limit.name, limit.get(config)))
        .collect();
    let sequence_bits = router::shard_layout(shards, 0)
        .local_id_space()
        .trailing_zeros();
    info!(
        driver = driver.name(),
        shards,
        id_layout = %format!("shard_bits={} sequence_bits={sequence_bits}", 32 - sequence_bits),
        tls = tls.name(),
        limits = %limits.join(" "),
        "listening on {addr}"
    );
}

/// Where scrapes go. Not worded like the start line, which tests and
/// scripts search for `listening on`.
pub(crate) fn serving_metrics(addr: SocketAddr) {
    info!("metrics at http://{addr}{METRICS_PATH}");
}

/// The shutdown line: the final counters, with drops and closes by cause.
pub(crate) fn stopped(stats: &Stats) {
    let dropped = by_cause(DropCause::ALL.map(|c| (c.name(), stats.dropped(c).frames)));
    let closed = by_cause(CloseCause::ALL.map(|c| (c.name(), stats.closed(c))));
    info!(
        connections_accepted = stats.connections_accepted,
        connections_refused = stats.connections_refused,
        frames_received = stats.received.frames,
        frames_routed = stats.routed.frames,
        frames_dropped = stats.dropped_total().frames,
        bytes_written = stats.bytes_written,
        accept_errors = stats.accept_errors,
        dropped = %dropped,
        closed = %closed,
        "drained; exiting"
    );
}

/// `name=count` for each non-zero count, or `none`.
fn by_cause<const N: usize>(counts: [(&str, u64); N]) -> String {
    let listed: Vec<String> = counts
        .iter()
        .filter(|(_, count)| *count > 0)
        .map(|(name, count)| format!("{name}={count}"))
        .collect();
    if listed.is_empty() {
        "none".to_owned()
    } else {
        listed.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_only_the_causes_that_happened() {
        assert_eq!(by_cause([("eof", 0), ("reset", 0)]), "none");
        assert_eq!(
            by_cause([("eof", 2), ("reset", 0), ("idle", 1)]),
            "eof=2,idle=1"
        );
    }
}
