//! One run's results: a JSON line for machines, a line of text for people.

use serde::Serialize;

use crate::backends::BackendKind;
use crate::server::ServerUsage;
use crate::stats::{Faults, Tally};
use crate::workloads::Measured;
use crate::workloads::fairness::FairnessMeasured;
use crate::workloads::idle::IdleOutcome;

/// Everything one run reports.
#[derive(Debug, Serialize)]
pub(crate) struct RunReport {
    /// Workload name.
    pub(crate) workload: &'static str,
    /// Backend kind.
    pub(crate) backend: BackendKind,
    /// Free-form tag distinguishing servers of one kind (e.g. the router's driver).
    pub(crate) label: String,
    /// The run's shape.
    pub(crate) params: Params,
    /// False when any verification fault was counted: such figures are not to be trusted.
    pub(crate) ok: bool,
    /// Total of `faults`.
    pub(crate) errors: u64,
    /// Verification faults by kind.
    pub(crate) faults: Faults,
    /// Message rates and latency, for workloads that move messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) throughput: Option<Throughput>,
    /// The server's CPU and memory during the run, when its PID was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) server: Option<ServerReport>,
    /// Connection counts and memory, for `idle`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) idle: Option<IdleReport>,
    /// Bytes the `slow` workload's flooder got accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) flood_bytes: Option<u64>,
    /// Round trips alone and beside a flood, for `fairness`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fairness: Option<FairnessReport>,
}

/// The run's shape; fields a workload does not use are omitted.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Params {
    /// Pairs (`pairs`, `pingpong`, `slow`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) pairs: Option<u32>,
    /// Senders (`fanin`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) senders: Option<u32>,
    /// Payload bytes per message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) size: Option<usize>,
    /// Messages in flight per sender.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) window: Option<u64>,
    /// Connections (`idle`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) connections: Option<u32>,
    /// Payload bytes per flood message (`slow`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) flood_size: Option<usize>,
    /// The flood's cap, MiB/s (`fairness`), if it had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) flood_rate_mib_s: Option<f64>,
    /// Measurement window, seconds.
    pub(crate) duration_s: f64,
    /// Warm-up, seconds.
    pub(crate) warmup_s: f64,
}

/// Rates over the measurement window.
#[derive(Debug, Serialize)]
pub(crate) struct Throughput {
    /// Window length, seconds.
    pub(crate) window_s: f64,
    /// Messages (round trips for `pingpong`) received in the window.
    pub(crate) messages: u64,
    /// Messages per second.
    pub(crate) msgs_per_s: f64,
    /// Payload megabytes (10^6) per second, one direction.
    pub(crate) mb_per_s: f64,
    /// Latency percentiles in microseconds (round trip for `pingpong`).
    pub(crate) latency_us: Latency,
}

/// Latency percentiles, microseconds.
#[derive(Debug, Serialize)]
pub(crate) struct Latency {
    /// Median.
    pub(crate) p50: f64,
    /// 99th percentile.
    pub(crate) p99: f64,
    /// 99.9th percentile.
    pub(crate) p999: f64,
    /// Largest.
    pub(crate) max: f64,
}

/// What `fairness` measured.
#[derive(Debug, Serialize)]
pub(crate) struct FairnessReport {
    /// Phases in the window, quiet and flood in turn.
    pub(crate) phases: u32,
    /// Length of a phase, seconds.
    pub(crate) phase_s: f64,
    /// Start of each phase left out, seconds.
    pub(crate) settle_s: f64,
    /// Round trips of the quiet phases.
    pub(crate) quiet: RoundTrips,
    /// Round trips of the flood phases.
    pub(crate) flood: RoundTrips,
    /// Flood p99 divided by quiet p99; absent if either side has no round trip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) p99_ratio: Option<f64>,
    /// Flood payload megabytes (10^6) received per second of flood phases.
    pub(crate) flood_mb_per_s: f64,
}

/// Round trips of one kind of phase.
#[derive(Debug, Serialize)]
pub(crate) struct RoundTrips {
    /// Round trips counted.
    pub(crate) round_trips: u64,
    /// Their round-trip time, microseconds.
    pub(crate) latency_us: Latency,
}

/// Server usage over the run.
#[derive(Debug, Serialize)]
pub(crate) struct ServerReport {
    /// CPU seconds inside the measurement window.
    pub(crate) cpu_seconds: f64,
    /// Messages delivered per server CPU-second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) msgs_per_cpu_s: Option<f64>,
    /// Highest RSS sampled during the run.
    pub(crate) rss_peak_bytes: u64,
}

/// What `idle` measured.
#[derive(Debug, Serialize)]
pub(crate) struct IdleReport {
    /// Connections opened and registered.
    pub(crate) opened: u32,
    /// Connections that failed.
    pub(crate) failed: u32,
    /// Seconds to open them all.
    pub(crate) open_s: f64,
    /// Server RSS before, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rss_before_bytes: Option<u64>,
    /// Server RSS with all connections open, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rss_after_bytes: Option<u64>,
    /// RSS growth divided by connections opened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) bytes_per_connection: Option<f64>,
}

impl Throughput {
    /// Rates of `measured`.
    pub(crate) fn of(measured: &Measured) -> Self {
        let window_s = measured.timing.window_secs();
        let tally: &Tally = &measured.tally;
        Self {
            window_s,
            messages: tally.messages,
            msgs_per_s: tally.messages as f64 / window_s,
            mb_per_s: tally.bytes as f64 / 1e6 / window_s,
            latency_us: Latency::of(tally),
        }
    }
}

impl Latency {
    /// Percentiles of the latency recorded in `tally`.
    fn of(tally: &Tally) -> Self {
        let percentile = |q: f64| tally.latency_ns.value_at_quantile(q) as f64 / 1000.0;
        Self {
            p50: percentile(0.5),
            p99: percentile(0.99),
            p999: percentile(0.999),
            max: tally.latency_ns.max() as f64 / 1000.0,
        }
    }
}

impl FairnessReport {
    /// The report of a `fairness` run with phases of `phase_s`, settling `settle_s`.
    pub(crate) fn of(measured: &FairnessMeasured, phase_s: f64, settle_s: f64) -> Self {
        let side = |tally: &Tally| RoundTrips {
            round_trips: tally.messages,
            latency_us: Latency::of(tally),
        };
        let (quiet, flood) = (side(&measured.quiet), side(&measured.flood));
        let p99_ratio = (quiet.round_trips > 0 && flood.round_trips > 0)
            .then(|| flood.latency_us.p99 / quiet.latency_us.p99);
        // Half the window floods; a partial last phase makes this approximate.
        let flood_secs = measured.timing.window_secs() / 2.0;
        Self {
            phases: measured.phases,
            phase_s,
            settle_s,
            quiet,
            flood,
            p99_ratio,
            flood_mb_per_s: measured.flood_received.bytes as f64 / 1e6 / flood_secs,
        }
    }
}

impl ServerReport {
    /// Usage of a run that delivered `messages` messages in its window.
    pub(crate) fn of(usage: ServerUsage, messages: Option<u64>) -> Self {
        Self {
            cpu_seconds: usage.cpu_seconds,
            msgs_per_cpu_s: messages
                .filter(|_| usage.cpu_seconds > 0.0)
                .map(|m| m as f64 / usage.cpu_seconds),
            rss_peak_bytes: usage.rss_peak_bytes,
        }
    }
}

impl IdleReport {
    /// The report of an `idle` outcome.
    pub(crate) fn of(outcome: &IdleOutcome) -> Self {
        let bytes_per_connection = match (outcome.rss_before, outcome.rss_after) {
            (Some(before), Some(after)) if outcome.opened > 0 => {
                Some((after as f64 - before as f64) / f64::from(outcome.opened))
            }
            _ => None,
        };
        Self {
            opened: outcome.opened,
            failed: outcome.failed,
            open_s: outcome.open_secs,
            rss_before_bytes: outcome.rss_before,
            rss_after_bytes: outcome.rss_after,
            bytes_per_connection,
        }
    }
}

impl RunReport {
    /// The report as one JSON line.
    pub(crate) fn json(&self) -> String {
        serde_json::to_string(self).expect("a report always serialises")
    }

    /// The report as one line of text.
    pub(crate) fn text(&self) -> String {
        let mut line = format!("{:<9} {:<14}", self.workload, self.label);
        let p = &self.params;
        for (name, value) in [
            ("P", p.pairs.map(u64::from)),
            ("N", p.senders.map(u64::from)),
            ("S", p.size.map(|s| s as u64)),
            ("W", p.window),
            ("C", p.connections.map(u64::from)),
        ] {
            if let Some(value) = value {
                line += &format!(" {name}={value}");
            }
        }
        if let Some(t) = &self.throughput {
            line += &format!(
                " | {:>11.0} msg/s {:>8.1} MB/s | p50 {:.0} p99 {:.0} p999 {:.0} µs",
                t.msgs_per_s, t.mb_per_s, t.latency_us.p50, t.latency_us.p99, t.latency_us.p999
            );
        }
        if let Some(f) = &self.fairness {
            let side = |name: &str, side: &RoundTrips| {
                let l = &side.latency_us;
                format!(
                    " | {name} p50 {:.0} p99 {:.0} p999 {:.0} µs ({} rt)",
                    l.p50, l.p99, l.p999, side.round_trips
                )
            };
            line += &side("quiet", &f.quiet);
            line += &side("flood", &f.flood);
            match f.p99_ratio {
                Some(ratio) => line += &format!(" | p99 flood/quiet {ratio:.2}×"),
                None => line += " | p99 flood/quiet —",
            }
            line += &format!(" | flood {:.0} MB/s", f.flood_mb_per_s);
        }
        if let Some(idle) = &self.idle {
            line += &format!(
                " | opened {} failed {} in {:.2} s",
                idle.opened, idle.failed, idle.open_s
            );
            if let Some(per_conn) = idle.bytes_per_connection {
                line += &format!(" | {per_conn:.0} B/conn");
            }
        }
        if let Some(server) = &self.server {
            line += &format!(
                " | server {:.2} cpu-s, peak {:.1} MiB",
                server.cpu_seconds,
                server.rss_peak_bytes as f64 / (1024.0 * 1024.0)
            );
            if let Some(rate) = server.msgs_per_cpu_s {
                line += &format!(", {rate:.0} msg/cpu-s");
            }
        }
        line += if self.ok { " | ok" } else { " | FAULTS" };
        if !self.ok {
            line += &format!(" {:?}", self.faults);
        }
        line
    }
}
