//! How a node joins its cluster.

use std::path::PathBuf;

/// How the bridge authenticates to NATS, besides credentials in the URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NatsAuth {
    /// None, or the URL's `user:password@` or `token@`.
    #[default]
    Url,
    /// A `.creds` file (JWT and NKey seed).
    CredsFile(PathBuf),
    /// A token.
    Token(String),
}

/// Where a node sits in the cluster and what the bridge may hold.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// The NATS server, e.g. `nats://127.0.0.1:4222` (`tls://` for TLS).
    pub url: String,
    /// Credentials beyond the URL's.
    pub auth: NatsAuth,
    /// This node's index, below `2^node_bits`.
    pub node: u32,
    /// The ID layout's node bits, the same on every node.
    pub node_bits: u8,
    /// The ID layout's shard bits, the same on every node.
    pub shard_bits: u8,
    /// Cores (shards) of this node, and of every other node.
    pub shards: u32,
    /// Subjects are `{subject_prefix}.{node}`.
    pub subject_prefix: String,
    /// Bytes of batches one core may have waiting to be published; beyond
    /// it [`NatsLinks`](crate::NatsLinks) refuses a batch. As much again
    /// may be kept in free buffers, for the copies of the next batches.
    /// Default 4 MiB.
    pub outbox_bytes: usize,
    /// Bytes of arrived batches one core may have waiting to be taken, each
    /// message counted at least 256 bytes; beyond it a message is dropped
    /// and counted. Default 8 MiB.
    pub inbox_bytes: usize,
    /// Messages `async-nats` buffers for the node's subscription before it
    /// drops them as a slow consumer. Default 1024.
    pub subscription_capacity: usize,
}

impl ClusterOptions {
    /// Node `node` of a cluster at `url`, with the bits and shards given and
    /// default bounds.
    pub fn new(url: impl Into<String>, node: u32, node_bits: u8, shard_bits: u8) -> Self {
        ClusterOptions {
            url: url.into(),
            auth: NatsAuth::Url,
            node,
            node_bits,
            shard_bits,
            shards: 1,
            subject_prefix: "router".into(),
            outbox_bytes: 4 << 20,
            inbox_bytes: 8 << 20,
            subscription_capacity: 1024,
        }
    }

    /// Node `node`'s subject.
    pub fn subject(&self, node: u32) -> String {
        format!("{}.{node}", self.subject_prefix)
    }

    /// How many node indexes the layout holds.
    pub fn nodes(&self) -> u32 {
        1 << self.node_bits
    }
}
