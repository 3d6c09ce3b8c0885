//! The bridge's counters: what crossed NATS to and from each peer node, and
//! what the bridge itself dropped or saw go wrong.

use std::sync::atomic::{AtomicU64, Ordering};

use router_core::peer::wire;

/// Traffic with one peer node, counted by the bridge.
#[derive(Debug, Default)]
pub struct NodeTraffic {
    /// Batches published to the node.
    pub batches_out: AtomicU64,
    /// Their bytes.
    pub bytes_out: AtomicU64,
    /// Frames in them.
    pub frames_out: AtomicU64,
    /// Messages received naming the node as sender, before the core checks
    /// them (a forged one is refused there).
    pub batches_in: AtomicU64,
    /// Their bytes.
    pub bytes_in: AtomicU64,
    /// Frames in them, as their records' tags and lengths count them
    /// (the core checks each batch whole; a forged one may count here).
    pub frames_in: AtomicU64,
}

impl NodeTraffic {
    /// Frames in `batch`, for the counters: one whose records do not add up
    /// has none (the core refuses and counts it). Counted from the records'
    /// tags and lengths, without reading a payload: the core checks each
    /// batch it takes whole, a second full decode here only to count was a
    /// pass over every byte on both nodes.
    pub(crate) fn frames_in_batch(batch: &[u8]) -> u64 {
        wire::count_frames(batch).unwrap_or(0)
    }
}

/// The bridge's counters, shared with the metrics endpoint.
#[derive(Debug)]
pub struct ClusterStats {
    /// Per peer node index.
    pub nodes: Vec<NodeTraffic>,
    /// Connections to NATS established after the first.
    pub reconnects: AtomicU64,
    /// Connections to NATS lost.
    pub disconnects: AtomicU64,
    /// `async-nats` reported the subscription a slow consumer: it dropped a
    /// message (the core counts the frames in it `in_transit`).
    pub slow_consumer_events: AtomicU64,
    /// Messages on this node's subject that name no core of it (too short,
    /// not a batch, another node, a shard it does not run): dropped.
    pub unroutable: AtomicU64,
    /// Messages dropped because their core's inbox was full.
    pub inbox_full: AtomicU64,
    /// Batches refused because the outbox was full or NATS disconnected
    /// (the core kept them and offered them again).
    pub send_refused: AtomicU64,
    /// Publishes `async-nats` failed.
    pub publish_errors: AtomicU64,
}

impl ClusterStats {
    pub(crate) fn new(nodes: u32) -> Self {
        ClusterStats {
            nodes: (0..nodes).map(|_| NodeTraffic::default()).collect(),
            reconnects: AtomicU64::new(0),
            disconnects: AtomicU64::new(0),
            slow_consumer_events: AtomicU64::new(0),
            unroutable: AtomicU64::new(0),
            inbox_full: AtomicU64::new(0),
            send_refused: AtomicU64::new(0),
            publish_errors: AtomicU64::new(0),
        }
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub(crate) fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }
}
