//! The router's [`Stats`] as Prometheus metric families.
//!
//! Every field of [`Stats`] maps to one family; drops and closes carry their
//! cause as a `cause` label, with every cause listed from the start (at 0), so
//! that `rate()` and alerts see a series before its first increment.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use router_core::{CloseCause, DropCause, Stats};

use crate::StatsCell;
use crate::cell::Published;

/// A [`Collector`] that reads a [`StatsCell`] on each scrape, for a
/// `prometheus_client` [`Registry`]: [`registry`] makes one holding only it,
/// and an application with its own registry can register it there.
#[derive(Debug, Clone)]
pub struct StatsCollector {
    cell: StatsCell,
}

impl StatsCollector {
    /// Collects what is published to `cell`.
    pub fn new(cell: StatsCell) -> Self {
        StatsCollector { cell }
    }
}

/// A registry holding the router's metrics and nothing else.
pub fn registry(cell: StatsCell) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(StatsCollector::new(cell)));
    registry
}

impl Collector for StatsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        encode_stats(&self.cell.published(), &mut encoder)
    }
}

const BYTES: Option<&Unit> = Some(&Unit::Bytes);

/// Help for the families labelled by [`DropCause`]; names every cause.
const DROP_CAUSES_HELP: &str = "unknown_destination (no live client holds the ID), \
     no_route (the ID belongs to another shard or node that cannot be reached), \
     destination_full (above outbound_high_water under overflow_policy=drop), \
     destination_closed (it closed before the frame was written), \
     oversized (over max_frame_bytes: a protocol violation), \
     sender_closed (the sender was closed before its held frames were routed), \
     truncated (a partial frame cut off by its sender's EOF or close), \
     shutdown (still unrouted when the drain stopped reading), \
     memory_budget (over max_buffered_bytes, for a destination with bytes queued, \
     under overflow_policy=drop), \
     in_transit (lost between two shards or nodes: a gap in the link's sequence), \
     peer_congested (the window to the owning shard or node was full under overflow_policy=drop).";

fn encode_stats(stats: &Published, encoder: &mut DescriptorEncoder<'_>) -> fmt::Result {
    gauge(
        encoder,
        stats,
        "router_connections_open",
        "Connections open now: given an ID and not yet closed.",
        None,
        |s: &Stats| s.connections_open,
    )?;
    counter(
        encoder,
        stats,
        "router_connections_accepted",
        "Connections accepted and given an ID.",
        None,
        |s: &Stats| s.connections_accepted,
    )?;
    counter(
        encoder,
        stats,
        "router_connections_refused",
        "Connections closed at once without an ID: max_connections reached, or shutting down.",
        None,
        |s: &Stats| s.connections_refused,
    )?;
    counter(
        encoder,
        stats,
        "router_accept_errors",
        "Failed accepts: clients that gave up before they were accepted, and \
         listener failures (router_accept_pauses_total).",
        None,
        |s: &Stats| s.accept_errors,
    )?;
    counter(
        encoder,
        stats,
        "router_accept_pauses",
        "Times accepting paused for accept_pause after the listener failed \
         (out of file descriptors, most likely).",
        None,
        |s: &Stats| s.accept_pauses,
    )?;
    counter_by_cause(
        encoder,
        stats,
        "router_connections_closed",
        "Connections closed, by cause: eof (the client closed and its queue was flushed), \
         reset (a read or write error), \
         write_stall (a slow consumer: it accepted no bytes for write_stall_timeout), \
         idle (nothing sent or queued for idle_timeout), \
         protocol_violation (it sent a frame over max_frame_bytes), \
         shutdown (closed by the drain), \
         memory_budget (over max_buffered_bytes, it held the largest unfinished frame).",
        None,
        |s: &Stats| CloseCause::ALL.map(|cause| (cause.name(), s.closed(cause))),
    )?;
    counter(
        encoder,
        stats,
        "router_frames_received",
        "Whole frames decoded from clients, whatever became of them.",
        None,
        |s: &Stats| s.received.frames,
    )?;
    counter(
        encoder,
        stats,
        "router_received",
        "Payload bytes, terminators included, of the frames in router_frames_received_total.",
        BYTES,
        |s: &Stats| s.received.bytes,
    )?;
    counter(
        encoder,
        stats,
        "router_frames_routed",
        "Frames queued to their destination.",
        None,
        |s: &Stats| s.routed.frames,
    )?;
    counter(
        encoder,
        stats,
        "router_routed",
        "Payload bytes, terminators included, of the frames in router_frames_routed_total.",
        BYTES,
        |s: &Stats| s.routed.bytes,
    )?;
    counter_by_cause(
        encoder,
        stats,
        "router_frames_dropped",
        &format!("Frames not delivered, by cause: {DROP_CAUSES_HELP}"),
        None,
        |s: &Stats| DropCause::ALL.map(|cause| (cause.name(), s.dropped(cause).frames)),
    )?;
    counter_by_cause(
        encoder,
        stats,
        "router_dropped",
        &format!(
            "Payload bytes, terminators included, of the frames in \
             router_frames_dropped_total, by cause: {DROP_CAUSES_HELP}"
        ),
        BYTES,
        |s: &Stats| DropCause::ALL.map(|cause| (cause.name(), s.dropped(cause).bytes)),
    )?;
    counter(
        encoder,
        stats,
        "router_written",
        "Bytes written to clients, their IDs included.",
        BYTES,
        |s: &Stats| s.bytes_written,
    )?;
    gauge(
        encoder,
        stats,
        "router_queued",
        "Bytes queued to all clients now, waiting for them to read.",
        BYTES,
        |s: &Stats| s.bytes_queued,
    )?;
    gauge(
        encoder,
        stats,
        "router_buffered",
        "Heap bytes all connections' buffers and queues hold now, \
         the figure max_buffered_bytes bounds.",
        BYTES,
        |s: &Stats| s.bytes_buffered,
    )?;
    gauge(
        encoder,
        stats,
        "router_senders_paused",
        "Senders not being read now, waiting for a full destination to drain \
         (overflow_policy=pause).",
        None,
        |s: &Stats| s.senders_paused,
    )?;
    counter(
        encoder,
        stats,
        "router_sender_pauses",
        "Times a sender was paused behind a destination above outbound_high_water, \
         or behind one with bytes queued while over max_buffered_bytes.",
        None,
        |s: &Stats| s.sender_pauses,
    )?;
    counter(
        encoder,
        stats,
        "router_budget_pauses",
        "Times a sender was paused because the router held more than \
         max_buffered_bytes and its destination had bytes queued \
         (also in router_sender_pauses_total).",
        None,
        |s: &Stats| s.budget_pauses,
    )?;
    encode_peer_stats(stats, encoder)
}

/// The traffic between this core and its peer shards or nodes: all zero on a
/// lone router.
fn encode_peer_stats(stats: &Published, encoder: &mut DescriptorEncoder<'_>) -> fmt::Result {
    counter(
        encoder,
        stats,
        "router_peer_frames_forwarded",
        "Frames forwarded to peer shards or nodes that own their destination.",
        None,
        |s: &Stats| s.forwarded.frames,
    )?;
    counter(
        encoder,
        stats,
        "router_peer_forwarded",
        "Payload bytes, terminators included, of the frames in router_peer_frames_forwarded_total.",
        BYTES,
        |s: &Stats| s.forwarded.bytes,
    )?;
    counter(
        encoder,
        stats,
        "router_peer_frames_received",
        "Frames received from peer shards or nodes, whatever became of them.",
        None,
        |s: &Stats| s.from_peers.frames,
    )?;
    counter(
        encoder,
        stats,
        "router_peer_received",
        "Payload bytes, terminators included, of the frames in router_peer_frames_received_total.",
        BYTES,
        |s: &Stats| s.from_peers.bytes,
    )?;
    gauge(
        encoder,
        stats,
        "router_peer_in_flight",
        "Payload bytes forwarded to peers and not yet acknowledged now: at most peer_window per peer.",
        BYTES,
        |s: &Stats| s.peer_bytes_in_flight,
    )?;
    counter(
        encoder,
        stats,
        "router_peer_stalls",
        "Times a sender was paused because the window to a peer was full.",
        None,
        |s: &Stats| s.peer_stalls,
    )?;
    counter(
        encoder,
        stats,
        "router_peer_batches_sent",
        "Batches of records handed to the driver for peers.",
        None,
        |s: &Stats| s.peer_batches_sent,
    )?;
    counter(
        encoder,
        stats,
        "router_peer_batches_received",
        "Batches of records taken from peers.",
        None,
        |s: &Stats| s.peer_batches_received,
    )?;
    counter(
        encoder,
        stats,
        "router_peer_batches_rejected",
        "Batches from peers refused whole: malformed, for another core, from an unknown \
         peer or another ID layout, replayed, or breaking the window.",
        None,
        |s: &Stats| s.peer_batches_rejected,
    )?;
    counter(
        encoder,
        stats,
        "router_peer_timeouts",
        "Times a peer was declared unreachable after peer_timeout of silence.",
        None,
        |s: &Stats| s.peer_timeouts,
    )?;
    let mut family = encoder.encode_descriptor(
        "router_shard_wakeups",
        "Times a batch from another shard woke a shard's sleeping loop (a system \
         call on both sides): compare with router_peer_frames_forwarded_total for \
         wake-ups per message. Zero on a lone router.",
        None,
        MetricType::Counter,
    )?;
    for (shard, one) in stats.shards.iter().enumerate() {
        let shard = shard.to_string();
        ConstCounter::new(one.wakeups)
            .encode(family.encode_family(&[("shard", shard.as_str())])?)?;
    }
    let total = stats.shards.iter().map(|one| one.wakeups).sum::<u64>();
    ConstCounter::new(total).encode(family)
}

/// A family of one number per shard, under a `shard` label, and their
/// sum without it (the router's, as a lone router reports it).
fn counter(
    encoder: &mut DescriptorEncoder<'_>,
    stats: &Published,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: impl Fn(&Stats) -> u64,
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, unit, MetricType::Counter)?;
    for (shard, one) in stats.shards() {
        ConstCounter::new(value(one)).encode(family.encode_family(&[("shard", shard)])?)?;
    }
    ConstCounter::new(value(&stats.total)).encode(family)
}

/// As [`counter`], for a gauge.
fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    stats: &Published,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: impl Fn(&Stats) -> u64,
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    for (shard, one) in stats.shards() {
        ConstGauge::new(value(one)).encode(family.encode_family(&[("shard", shard)])?)?;
    }
    ConstGauge::new(value(&stats.total)).encode(family)
}

/// As [`counter`], with a `cause` label on every number.
fn counter_by_cause<const N: usize>(
    encoder: &mut DescriptorEncoder<'_>,
    stats: &Published,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    values: impl Fn(&Stats) -> [(&'static str, u64); N],
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, unit, MetricType::Counter)?;
    for (cause, value) in values(&stats.total) {
        ConstCounter::new(value).encode(family.encode_family(&[("cause", cause)])?)?;
    }
    for (shard, one) in stats.shards() {
        for (cause, value) in values(one) {
            let labels = [("cause", cause), ("shard", shard.as_str())];
            ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use prometheus_client::encoding::text;
    use router_core::{Config, Router};

    use super::*;
    use crate::ShardStats;

    fn exposition(stats: &Stats) -> String {
        let cell = StatsCell::new();
        cell.publisher()(stats);
        let mut text = String::new();
        text::encode(&mut text, &registry(cell)).unwrap();
        text
    }

    /// A router that accepted two clients, refused a third, routed one frame
    /// and dropped one to an unknown destination.
    fn busy_router() -> Router {
        let now = Instant::now();
        let mut router = Router::new(Config {
            max_connections: 2,
            ..Config::default()
        })
        .unwrap();
        let a = router.handle_accept(now).unwrap();
        let b = router.handle_accept(now).unwrap();
        assert!(router.handle_accept(now).is_err());
        let mut frames = Vec::new();
        router_client::encode_frame(b.id(), b"hi", &mut frames).unwrap();
        router_client::encode_frame(0xDEAD_BEEF, b"lost", &mut frames).unwrap();
        router.handle_input(a, &frames, now);
        router
    }

    #[test]
    fn every_counter_is_exposed_with_its_value() {
        let router = busy_router();
        let text = exposition(router.stats());
        // What the queues allocate for 11 bytes depends on the allocator's
        // rounding; the figure is whatever the router counted.
        let buffered = router.stats().bytes_buffered;
        assert!(buffered >= 11, "{buffered}");
        let sample = format!("router_buffered_bytes {buffered}\n");
        assert!(text.contains(&sample), "no {sample:?} in:\n{text}");
        for sample in [
            "router_connections_open 2\n",
            "router_connections_accepted_total 2\n",
            "router_connections_refused_total 1\n",
            "router_accept_errors_total 0\n",
            "router_accept_pauses_total 0\n",
            "router_connections_closed_total{cause=\"eof\"} 0\n",
            "router_frames_received_total 2\n",
            "router_received_bytes_total 8\n",
            "router_frames_routed_total 1\n",
            "router_routed_bytes_total 3\n",
            "router_frames_dropped_total{cause=\"unknown_destination\"} 1\n",
            "router_frames_dropped_total{cause=\"destination_full\"} 0\n",
            "router_dropped_bytes_total{cause=\"unknown_destination\"} 5\n",
            // Two IDs of 4 bytes and one 3-byte frame, none written yet.
            "router_queued_bytes 11\n",
            "router_written_bytes_total 0\n",
            "router_senders_paused 0\n",
            "router_sender_pauses_total 0\n",
            "router_budget_pauses_total 0\n",
            "router_connections_closed_total{cause=\"memory_budget\"} 0\n",
            "router_peer_frames_forwarded_total 0\n",
            "router_peer_forwarded_bytes_total 0\n",
            "router_peer_frames_received_total 0\n",
            "router_peer_received_bytes_total 0\n",
            "router_peer_in_flight_bytes 0\n",
            "router_peer_stalls_total 0\n",
            "router_peer_batches_sent_total 0\n",
            "router_peer_batches_received_total 0\n",
            "router_peer_batches_rejected_total 0\n",
            "router_peer_timeouts_total 0\n",
        ] {
            assert!(text.contains(sample), "no {sample:?} in:\n{text}");
        }
    }

    #[test]
    fn families_have_help_type_and_unit() {
        let text = exposition(&Stats::default());
        assert!(text.contains("# TYPE router_frames_routed counter\n"));
        assert!(text.contains("# TYPE router_connections_open gauge\n"));
        assert!(text.contains("# UNIT router_routed_bytes bytes\n"));
        let families = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        let helps = text.lines().filter(|l| l.starts_with("# HELP ")).count();
        assert_eq!((families, helps), (29, 29), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn shards_are_labelled_and_summed() {
        let shard = |routed: u64, wakeups: u64| {
            let mut stats = Stats::default();
            stats.routed.frames = routed;
            ShardStats { stats, wakeups }
        };
        let shards = [shard(3, 1), shard(4, 2)];
        let mut total = Stats::default();
        shards.iter().for_each(|one| total.add(&one.stats));
        let cell = StatsCell::new();
        cell.publish_shards(&total, &shards);
        let mut text = String::new();
        text::encode(&mut text, &registry(cell)).unwrap();
        for line in [
            "router_frames_routed_total 7\n",
            "router_frames_routed_total{shard=\"0\"} 3\n",
            "router_frames_routed_total{shard=\"1\"} 4\n",
            "router_frames_dropped_total{cause=\"no_route\"} 0\n",
            "router_frames_dropped_total{cause=\"no_route\",shard=\"1\"} 0\n",
            "router_shard_wakeups_total 3\n",
            "router_shard_wakeups_total{shard=\"1\"} 2\n",
        ] {
            assert!(text.contains(line), "no {line} in\n{text}");
        }
    }

    #[test]
    fn every_cause_is_listed_and_explained() {
        let text = exposition(&Stats::default());
        let help = |family: &str| {
            let prefix = format!("# HELP {family} ");
            text.lines()
                .find_map(|line| line.strip_prefix(prefix.as_str()))
                .unwrap_or_else(|| panic!("no help for {family}"))
                .to_owned()
        };
        for cause in DropCause::ALL.map(DropCause::name) {
            for family in ["router_frames_dropped", "router_dropped_bytes"] {
                assert!(help(family).contains(&format!("{cause} (")), "{family}");
                let sample = format!("{family}_total{{cause=\"{cause}\"}} 0\n");
                assert!(text.contains(&sample), "no {sample:?}");
            }
        }
        for cause in CloseCause::ALL.map(CloseCause::name) {
            assert!(help("router_connections_closed").contains(&format!("{cause} (")));
            let sample = format!("router_connections_closed_total{{cause=\"{cause}\"}} 0\n");
            assert!(text.contains(&sample), "no {sample:?}");
        }
    }
}
