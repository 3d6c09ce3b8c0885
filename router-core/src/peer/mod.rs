//! Peers: the other router cores (shards of this node, or cores of other
//! nodes) that own the IDs this core does not.
//!
//! Each peer has one link: what this core has sent it and what it
//! acknowledged (flow control, bounded by `peer_window`), what it has sent this
//! core (sequence and gap detection), which of its destinations are full
//! (senders here wait on them), which of ours it was told are full, and the
//! batch being built for it. The [`Router`](crate::Router) methods that drive
//! them live in `router/peers.rs`; the byte format is [`wire`].

mod link;
pub mod wire;

pub(crate) use link::{PeerLink, cost};

use crate::ids::{IdLayout, Owner};

/// Another router core, named by its node and shard in the [`IdLayout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId {
    /// The node's index.
    pub node: u32,
    /// The shard's index within its node.
    pub shard: u32,
}

impl PeerId {
    /// The core that is shard `shard` of node `node`.
    pub const fn new(node: u32, shard: u32) -> Self {
        PeerId { node, shard }
    }

    /// The core that owns `id` under `layout`, or `None` if it is this one.
    pub fn owner_of(layout: &IdLayout, id: u32) -> Option<PeerId> {
        match layout.owner_of(id) {
            Owner::Local => None,
            Owner::Remote { node, shard } => Some(PeerId { node, shard }),
        }
    }
}

impl std::fmt::Display for PeerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.node, self.shard)
    }
}

/// Why [`Router::handle_peer_up`](crate::Router::handle_peer_up) refused a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// The peer is this core itself.
    #[error("peer {0} is this core")]
    IsSelf(PeerId),
    /// The peer's node or shard index does not fit the layout's bits, so no ID
    /// can name it.
    #[error("peer {0} does not fit the id_layout")]
    OutsideLayout(PeerId),
}

/// A peer's link state, for operators and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerInfo {
    /// The driver reported it up, it was heard within `peer_timeout`, and it
    /// is not draining: frames for it are forwarded.
    pub reachable: bool,
    /// Payload bytes sent to it (or batched for it) and not yet acknowledged:
    /// at most `peer_window`, frame overheads included.
    pub bytes_in_flight: u64,
    /// Bytes of the batch being built for it, header included.
    pub batch_bytes: usize,
    /// Frames in that batch.
    pub frames_batched: u64,
    /// Heap bytes its link holds.
    pub heap_bytes: usize,
    /// Its destinations that senders here are paused behind.
    pub full_destinations: usize,
}
