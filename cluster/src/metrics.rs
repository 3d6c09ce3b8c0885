//! The bridge's counters as Prometheus metric families, served beside the
//! router's own (`router_peer_*`: frames forwarded and received, stalls,
//! drops by cause) on the node's `/metrics`.

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::registry::Unit;

use crate::stats::{ClusterStats, NodeTraffic};

/// Reads a bridge's [`ClusterStats`] on each scrape.
#[derive(Debug)]
pub struct ClusterCollector {
    stats: Arc<ClusterStats>,
    /// This node, which has no traffic with itself and is left out.
    node: u32,
}

impl ClusterCollector {
    /// Collects `stats`, the counters of node `node`'s bridge.
    pub fn new(stats: Arc<ClusterStats>, node: u32) -> Self {
        ClusterCollector { stats, node }
    }
}

impl Collector for ClusterCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let stats = &self.stats;
        let encoder = &mut encoder;
        type Field = fn(&NodeTraffic) -> u64;
        let per_node: [(&str, &str, Option<&Unit>, Field); 6] = [
            (
                "router_cluster_batches_published",
                "Batches (NATS messages) published to each peer node.",
                None,
                |t| ClusterStats::get(&t.batches_out),
            ),
            (
                "router_cluster_published",
                "Bytes of the batches in router_cluster_batches_published_total.",
                Some(&Unit::Bytes),
                |t| ClusterStats::get(&t.bytes_out),
            ),
            (
                "router_cluster_frames_published",
                "Frames in the batches of router_cluster_batches_published_total.",
                None,
                |t| ClusterStats::get(&t.frames_out),
            ),
            (
                "router_cluster_batches_delivered",
                "Messages on this node's subject naming each node as sender, before \
                 the core checks them (router_peer_batches_rejected_total counts those refused).",
                None,
                |t| ClusterStats::get(&t.batches_in),
            ),
            (
                "router_cluster_delivered",
                "Bytes of the messages in router_cluster_batches_delivered_total.",
                Some(&Unit::Bytes),
                |t| ClusterStats::get(&t.bytes_in),
            ),
            (
                "router_cluster_frames_delivered",
                "Frames in the batches of router_cluster_batches_delivered_total, counted by \
                 their records before the core checks them.",
                None,
                |t| ClusterStats::get(&t.frames_in),
            ),
        ];
        for (name, help, unit, field) in per_node {
            let mut family = encoder.encode_descriptor(name, help, unit, MetricType::Counter)?;
            for (node, traffic) in stats.nodes.iter().enumerate() {
                if node as u32 == self.node {
                    continue;
                }
                let label = node.to_string();
                ConstCounter::new(field(traffic))
                    .encode(family.encode_family(&[("node", label.as_str())])?)?;
            }
        }
        let totals = [
            (
                "router_cluster_nats_reconnects",
                "Times the NATS connection came back after it was lost.",
                &stats.reconnects,
            ),
            (
                "router_cluster_nats_disconnects",
                "Times the NATS connection was lost.",
                &stats.disconnects,
            ),
            (
                "router_cluster_slow_consumer_events",
                "Messages async-nats dropped because this node's subscription was full \
                 (the cores count their frames in_transit).",
                &stats.slow_consumer_events,
            ),
            (
                "router_cluster_unroutable",
                "Messages on this node's subject that name no core of it: not a batch, \
                 another node, a shard it does not run. Dropped.",
                &stats.unroutable,
            ),
            (
                "router_cluster_inbox_full",
                "Messages dropped because their core's inbox was full.",
                &stats.inbox_full,
            ),
            (
                "router_cluster_sends_refused",
                "Batches the bridge refused (outbox full, NATS disconnected); the core \
                 keeps them and offers them again.",
                &stats.send_refused,
            ),
            (
                "router_cluster_publish_errors",
                "Publishes that async-nats failed.",
                &stats.publish_errors,
            ),
        ];
        for (name, help, counter) in totals {
            let metric = ConstCounter::new(ClusterStats::get(counter));
            metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text;
    use prometheus_client::registry::Registry;

    use super::*;

    #[test]
    fn every_peer_node_but_this_one_has_its_series() {
        let stats = Arc::new(ClusterStats::new(4));
        ClusterStats::bump(&stats.nodes[2].batches_out, 7);
        ClusterStats::bump(&stats.slow_consumer_events, 3);
        let mut registry = Registry::default();
        registry.register_collector(Box::new(ClusterCollector::new(stats, 1)));
        let mut exposition = String::new();
        text::encode(&mut exposition, &registry).unwrap();
        assert!(exposition.contains("router_cluster_batches_published_total{node=\"2\"} 7"));
        assert!(exposition.contains("router_cluster_batches_published_total{node=\"0\"} 0"));
        assert!(!exposition.contains("{node=\"1\"}"), "{exposition}");
        assert!(exposition.contains("router_cluster_slow_consumer_events_total 3"));
        assert!(exposition.contains("router_cluster_published_bytes_total{node=\"2\"} 0"));
    }
}
