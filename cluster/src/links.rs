//! One core's links to the cores of every other node, through the bridge.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::Bytes;
use router_core::PeerId;
use router_links::{PeerChange, PeerLinks};
use tokio::sync::mpsc;

use crate::bridge::Shared;
use crate::options::ClusterOptions;
use crate::recycle::BufferPool;
use crate::stats::{ClusterStats, NodeTraffic};

/// Batches handed over per [`receive`](PeerLinks::receive) call at most, so
/// that one turn of the core's loop stays short.
const RECEIVE_BOUND: usize = 64;

/// A core's batches waiting to be published, bounded in bytes.
#[derive(Debug)]
pub(crate) struct Outbox {
    queued: AtomicUsize,
    capacity: usize,
    /// A batch was refused for want of room: ring the core once there is.
    refused: AtomicBool,
}

impl Outbox {
    pub(crate) fn new(capacity: usize) -> Self {
        Outbox {
            queued: AtomicUsize::new(0),
            capacity,
            refused: AtomicBool::new(false),
        }
    }

    /// Makes room for `len` bytes, or says there is none.
    fn reserve(&self, len: usize) -> bool {
        let full = |queued: usize| queued > 0 && queued + len > self.capacity;
        if full(self.queued.load(Ordering::SeqCst)) {
            self.refused.store(true, Ordering::SeqCst);
            // Flag, then look again: either this sees the room the publisher
            // made, or the publisher sees the flag and rings.
            if full(self.queued.load(Ordering::SeqCst)) {
                return false;
            }
            self.refused.store(false, Ordering::SeqCst);
        }
        self.queued.fetch_add(len, Ordering::SeqCst);
        true
    }

    /// `len` bytes were published. True if the core was refused and there
    /// is room again (half the outbox), so it should be rung.
    pub(crate) fn published(&self, len: usize) -> bool {
        let left = self.queued.fetch_sub(len, Ordering::SeqCst) - len;
        left <= self.capacity / 2 && self.refused.swap(false, Ordering::SeqCst)
    }
}

/// One core's [`PeerLinks`] over NATS: shard `shard` of this node, linked to
/// every shard of every other node of the layout. Every method returns at
/// once; publishing and receiving happen on the bridge's runtime.
#[derive(Debug)]
pub struct NatsLinks {
    shared: Arc<Shared>,
    shard: u32,
    /// Peers not yet reported up, last first.
    to_report: Vec<PeerId>,
    outbox: Arc<Outbox>,
    /// Where the buffers of published batches come back, for the next.
    buffers: Arc<BufferPool>,
    to_publish: mpsc::UnboundedSender<(u32, Bytes)>,
    arrived: VecDeque<Bytes>,
}

impl NatsLinks {
    pub(crate) fn new(
        options: &ClusterOptions,
        shard: u32,
        shared: Arc<Shared>,
        outbox: Arc<Outbox>,
        to_publish: mpsc::UnboundedSender<(u32, Bytes)>,
    ) -> Self {
        let mut to_report: Vec<PeerId> = (0..options.nodes())
            .filter(|&node| node != options.node)
            .flat_map(|node| (0..options.shards).map(move |shard| PeerId::new(node, shard)))
            .collect();
        to_report.reverse();
        NatsLinks {
            shared,
            shard,
            to_report,
            buffers: BufferPool::new(options.outbox_bytes),
            outbox,
            to_publish,
            arrived: VecDeque::new(),
        }
    }

    /// The shard of this node these links serve.
    pub fn shard(&self) -> u32 {
        self.shard
    }
}

impl PeerLinks for NatsLinks {
    /// Every peer is reported up once, at start: a peer that never answers
    /// is unreachable after `peer_timeout`, as one that died. A lost NATS
    /// connection is no change: batches are refused meanwhile, and silence
    /// makes peers unreachable if it lasts.
    fn poll_change(&mut self) -> Option<PeerChange> {
        self.to_report.pop().map(PeerChange::Up)
    }

    /// Takes the batch's buffer, and leaves the core one that `async-nats`
    /// has written and dropped (the bridge's pool of spare buffers), so that
    /// its next batch neither grows from empty nor is copied.
    fn send(&mut self, peer: PeerId, batch: &mut Vec<u8>) -> bool {
        let stats = &self.shared.stats;
        // A closed channel: the bridge is shutting down, and publishes
        // nothing more.
        if !self.shared.connected.load(Ordering::SeqCst)
            || self.to_publish.is_closed()
            || !self.outbox.reserve(batch.len())
        {
            ClusterStats::bump(&stats.send_refused, 1);
            return false;
        }
        if let Some(traffic) = stats.nodes.get(peer.node as usize) {
            ClusterStats::bump(&traffic.batches_out, 1);
            ClusterStats::bump(&traffic.bytes_out, batch.len() as u64);
            ClusterStats::bump(&traffic.frames_out, NodeTraffic::frames_in_batch(batch));
        }
        // Only a bridge shutting down since the check above drops it.
        let _ = self.to_publish.send((peer.node, self.buffers.take(batch)));
        true
    }

    fn has_room_again(&mut self) -> bool {
        self.shared.cores[self.shard as usize]
            .room_again
            .swap(false, Ordering::SeqCst)
    }

    fn receive(&mut self, take: &mut dyn FnMut(&[u8])) -> usize {
        let core = &self.shared.cores[self.shard as usize];
        core.inbox.take(RECEIVE_BOUND, &mut self.arrived);
        let count = self.arrived.len();
        for batch in self.arrived.drain(..) {
            take(&batch);
        }
        count
    }
}
