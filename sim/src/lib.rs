//! Deterministic simulation of `router-core`, in the spirit of quinn-proto's
//! test `Pair`: many simulated clients against one [`Router`](router_core::Router),
//! a fake clock that jumps (from [`epoch`], its one real reading), writes cut
//! at random points, receive windows that open and close, clients that stop
//! reading, disconnect, reset or send garbage.
//!
//! After every step the [`Sim`] checks the router's invariants against a
//! reference model ([`Oracle`]): every delivered frame was sent, whole, to this
//! destination, in per-pair order; queues and buffers stay within the
//! configured bounds; the gauges match the connections' state. At the end,
//! [`Sim::settle_and_check`] checks that every frame the router read was
//! delivered or counted as dropped, and that no frame between well-behaved
//! clients was lost.
//!
//! The same [`Op`]s drive the seeded simulations in `router-core`'s tests and
//! the `router_ops` fuzz target, so both check exactly the same invariants.
//! The fuzz targets themselves live here too ([`fuzz`]), so that the stable
//! test suite replays their corpus through the very code the fuzzer runs.

mod clock;
pub mod cluster;
pub mod fuzz;
pub mod network;
pub mod ops;
pub mod oracle;
pub mod payload;
mod pick;
mod stream;
mod world;

pub use clock::epoch;
pub use network::{Network, Sink, Socket, Told};
pub use ops::{Op, Target};
pub use oracle::Oracle;
pub use world::Sim;

use std::time::Duration;

use router_core::{Config, IdLayout, OverflowPolicy, Stats};

/// A configuration with small limits, so that a short run hits them all,
/// chosen by `selector` (any value is valid).
pub fn small_config(selector: u64) -> Config {
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
        idle_timeout: rng
            .bool()
            .then(|| Duration::from_millis(rng.u64(500..=20_000))),
        max_connections: rng.usize(2..=16),
        drain_timeout: Duration::from_millis(rng.u64(100..=3000)),
        id_layout: if rng.u8(0..4) == 0 {
            IdLayout::new(4, rng.u32(0..16), 4, rng.u32(0..16))
        } else {
            IdLayout::SINGLE
        },
        // Drawn last, so that the draws before it are as they were.
        accept_pause: Duration::from_millis(rng.u64(10..=1000)),
        // Drawn after it, for the same reason. From one frame up to a few
        // connections' worth: small enough that many seeds reach it.
        max_buffered_bytes: rng
            .usize(max_frame_bytes..=8 * (max_frame_bytes + outbound_high_water)),
        // Peers are the cluster world's business: this one has none.
        peer_window: Config::default().peer_window,
        peer_timeout: Config::default().peer_timeout,
        incarnation: 0,
        max_batch_bytes: Config::default().max_batch_bytes,
    }
}

/// Runs one seeded simulation of `steps` random operations and checks it,
/// returning the router's final counters. A failure panics; the caller reports
/// the seed so it can be replayed.
pub fn run_seed(seed: u64, steps: usize) -> Stats {
    let config = small_config(seed);
    let max_frame_bytes = config.max_frame_bytes;
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut sim = Sim::new(config);
    for _ in 0..steps {
        sim.apply(&Op::random(&mut rng, max_frame_bytes));
    }
    if rng.bool() {
        sim.apply(&Op::Shutdown);
    }
    sim.settle_and_check();
    sim.router().stats().clone()
}
