//! A world of several routers: each with its own clients, a link for every
//! ordered pair of routers that keeps order and may hold batches back
//! (stall), refuse them (a full ring), lose them (down), and deliver garbage
//! or replays; a seeded scheduler interleaves it all.
//!
//! After every step the [`Cluster`] checks, on top of each router's own
//! gauges and bounds: per-pair order and wholeness across routers (one
//! [`Oracle`](crate::Oracle) for the whole cluster, IDs being unique across
//! it); memory per core, peer windows and batches included; each router's
//! books (every frame it took is queued, forwarded, dropped, held or
//! batched); the cluster's books so far; and liveness: in a quiet world no
//! sender is paused. Once settled, every frame read is delivered or counted
//! dropped somewhere in the cluster, and every frame forwarded was received
//! or counted lost in transit.

mod checks;
mod ops;
mod world;

pub use ops::ClusterOp;
pub use world::Cluster;

use std::time::Duration;

use router_core::peer::wire::{FRAME_OVERHEAD, HEADER_LEN};
use router_core::{Config, OverflowPolicy};

/// Limits small enough that a short run hits them all, peer windows and
/// timeouts included, chosen by `selector` (any value is valid).
pub fn cluster_config(selector: u64) -> Config {
    let mut rng = fastrand::Rng::with_seed(selector);
    let max_frame_bytes = [32, 64, 256, 1024][rng.usize(..4)];
    let outbound_high_water = rng.usize(16..=4096);
    Config {
        max_frame_bytes,
        outbound_high_water,
        outbound_low_water: rng.usize(1..=outbound_high_water),
        overflow_policy: if rng.bool() {
            OverflowPolicy::Pause
        } else {
            OverflowPolicy::Drop
        },
        write_stall_timeout: Duration::from_millis(rng.u64(100..=5000)),
        max_connections: rng.usize(2..=12),
        peer_window: rng.usize(16..=8192),
        peer_timeout: Duration::from_millis(rng.u64(200..=3000)),
        // Drawn last, so that the draws before it are as they were. Half the
        // seeds bound batches as a NATS server does, from one frame's batch
        // up: often below what a window batches, so batches are cut.
        max_batch_bytes: if rng.bool() {
            let one_frame = max_frame_bytes + 1 + FRAME_OVERHEAD + HEADER_LEN;
            rng.usize(one_frame..=4 * one_frame)
        } else {
            usize::MAX
        },
        ..Config::default()
    }
}

/// Runs one seeded cluster of 2 to 4 routers through `steps` random
/// operations, then settles and checks it. A failure panics; the caller
/// reports the seed.
pub fn run_cluster_seed(seed: u64, steps: usize) -> Vec<router_core::Stats> {
    let config = cluster_config(seed);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut cluster = Cluster::new(&config, rng.usize(2..=4));
    for _ in 0..steps {
        cluster.apply(&ClusterOp::random(&mut rng, config.max_frame_bytes));
    }
    cluster.settle_and_check();
    cluster
        .routers()
        .iter()
        .map(|r| r.stats().clone())
        .collect()
}
