//! The flags that make the router one node of a cluster joined through NATS.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use router_cluster::{ClusterOptions, NatsAuth};
use router_core::{Config, IdLayout, largest_frame_in_batch};

/// Default `--node-bits`: up to 16 nodes, each with 2^28 IDs.
pub(crate) const DEFAULT_NODE_BITS: u8 = 4;

/// Cluster membership: off unless `--nats` is given.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub(crate) struct ClusterFlags {
    /// Join a cluster of router nodes through the NATS server at URL
    /// (nats://HOST:PORT; tls://HOST:PORT for TLS; nats://USER:PASS@HOST:PORT
    /// or nats://TOKEN@HOST:PORT for credentials). Off: a lone router.
    #[arg(long, value_name = "URL")]
    pub(crate) nats: Option<String>,

    /// NATS credentials file (a JWT and an NKey seed).
    #[arg(
        long,
        value_name = "FILE",
        requires = "nats",
        conflicts_with = "nats_token"
    )]
    pub(crate) nats_creds: Option<PathBuf>,

    /// NATS authentication token.
    #[arg(long, value_name = "TOKEN", requires = "nats")]
    pub(crate) nats_token: Option<String>,

    /// This node's index in the cluster, below 2^node-bits; each node needs
    /// its own.
    #[arg(long, value_name = "K", default_value_t = 0, requires = "nats")]
    pub(crate) node: u32,

    /// Bits of an ID that name its node: up to 2^B nodes of 2^(32-B) IDs
    /// each. Every node of a cluster must use the same.
    #[arg(
        long,
        value_name = "B",
        default_value_t = DEFAULT_NODE_BITS,
        requires = "nats",
        value_parser = clap::value_parser!(u8).range(1..=16)
    )]
    pub(crate) node_bits: u8,
}

impl ClusterFlags {
    /// The bridge's options for a node of `shards` shards, if the router
    /// joins a cluster. Every node must run as many.
    pub(crate) fn options(&self, shards: usize) -> Option<ClusterOptions> {
        let url = self.nats.clone()?;
        let mut options =
            ClusterOptions::new(url, self.node, self.node_bits, router::shard_bits(shards));
        options.shards = shards as u32;
        options.auth = match (&self.nats_creds, &self.nats_token) {
            (Some(path), _) => NatsAuth::CredsFile(path.clone()),
            (None, Some(token)) => NatsAuth::Token(token.clone()),
            (None, None) => NatsAuth::Url,
        };
        Some(options)
    }
}

/// `config` for node `options.node` of a cluster whose NATS server takes
/// messages of up to `max_payload` bytes: its ID layout, an incarnation
/// from the clock (so that a restarted node hands out none of its previous
/// run's IDs, see [`Config::incarnation`]), batches within `max_payload`,
/// and, unless `--max-frame-bytes` was given, the largest frame that fits.
pub(crate) fn node_config(
    mut config: Config,
    options: &ClusterOptions,
    max_payload: usize,
    frame_limit_given: bool,
) -> Config {
    config.id_layout = IdLayout::new(options.node_bits, options.node, options.shard_bits, 0);
    config.incarnation = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    config.max_batch_bytes = max_payload;
    if !frame_limit_given {
        config.max_frame_bytes = config
            .max_frame_bytes
            .min(largest_frame_in_batch(max_payload));
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_frame_limit_shrinks_to_the_payload_and_a_given_one_does_not() {
        let options = ClusterOptions::new("nats://127.0.0.1:4222", 3, 4, 0);
        let config = node_config(Config::default(), &options, 1 << 20, false);
        assert_eq!(config.max_frame_bytes, largest_frame_in_batch(1 << 20));
        assert_eq!(config.max_batch_bytes, 1 << 20);
        assert_eq!(config.id_layout, IdLayout::new(4, 3, 0, 0));
        assert!(config.incarnation > 0, "from the clock");
        assert_eq!(config.validate(), Ok(()));
        let given = node_config(Config::default(), &options, 1 << 20, true);
        assert_eq!(given.max_frame_bytes, 1 << 20);
        assert!(given.validate().is_err(), "refused at start");
    }
}
