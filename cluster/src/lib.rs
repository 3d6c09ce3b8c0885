//! The NATS bridge that joins router nodes into one router (section 5 of the
//! protocol: shards and nodes).
//!
//! Each node connects to a NATS server and subscribes to one subject of its
//! own, `{prefix}.{node}`. A core's batches for any core of node K are
//! published on K's subject, one batch per message; the bridge of node K
//! hands each message to the core the batch header names (`to.shard`), and
//! the core checks it whole as untrusted input. There is no broadcast and no
//! subscription per client: a node's whole traffic from all its peers shares
//! one subscription, and order holds because NATS keeps it from one
//! publisher to one subscriber (a core publishes its batches in order from
//! one task).
//!
//! **Peers.** Every core of every other node the layout can name
//! (`2^node_bits` nodes of [`ClusterOptions::shards`] shards each, every node
//! running the same number of shards) is a peer, reported up once at start.
//! The core sends each a heartbeat every `peer_timeout / 3`; a node that does
//! not exist, or has died, or that NATS cannot reach, is silent and counts
//! as unreachable after `peer_timeout`: frames for it are counted
//! `no_route`. Its next batch makes it reachable again.
//!
//! **Layout.** Every batch header carries the sender's `node_bits` and
//! `shard_bits`; a core refuses (and counts in `peer_batches_rejected`) any
//! batch with another layout, so a node started with other bits never
//! exchanges a frame with this one.
//!
//! **Never blocking a core.** [`NatsLinks`] (its `send`) copies the batch (into a
//! buffer used again once written: no fresh pages per batch) into a
//! bounded outbox (bytes, [`ClusterOptions::outbox_bytes`]) and returns; a
//! full outbox, or a lost NATS connection, refuses the batch and the core
//! keeps it (its flow control bounds what it holds). Arriving batches go to a
//! bounded inbox per core ([`ClusterOptions::inbox_bytes`]); a message that
//! does not fit is dropped and counted, and the core sees the gap
//! (`in_transit`). `async-nats` drops messages for a subscription whose
//! channel ([`ClusterOptions::subscription_capacity`] messages) is full:
//! its slow-consumer events are counted too.
//!
//! **Batch size.** A NATS server refuses a message larger than the
//! `max_payload` it announces: [`Bridge::max_payload`] reports it, for the
//! cores' [`Config::max_batch_bytes`](router_core::Config::max_batch_bytes).

mod bridge;
mod inbox;
mod links;
mod metrics;
mod options;
mod recycle;
mod stats;

pub use bridge::{Bridge, ClusterError};
pub use links::NatsLinks;
pub use metrics::ClusterCollector;
pub use options::{ClusterOptions, NatsAuth};
pub use stats::{ClusterStats, NodeTraffic};
