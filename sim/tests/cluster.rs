//! Seeded clusters of 2 to 4 routers: clients misbehaving at random, links
//! that stall, refuse, go down, carry garbage and replays, every invariant
//! checked after every step (see `router_sim::cluster`).
//!
//! A failing seed prints itself; replay it alone with
//! `CLUSTER_SEED=<seed> cargo test -p router-sim --test cluster`.

use std::env;

/// Prints the seed if the simulation panics, so the failure can be replayed.
struct SeedReporter(u64);

impl Drop for SeedReporter {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "cluster simulation failed: replay with CLUSTER_SEED={}",
                self.0
            );
        }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    env::var(name).ok().map(|v| v.parse().expect("a number"))
}

#[test]
fn random_clusters_keep_every_invariant() {
    let steps = env_u64("CLUSTER_STEPS").unwrap_or(400) as usize;
    let seeds = match env_u64("CLUSTER_SEED") {
        Some(seed) => seed..seed + 1,
        None => 0..env_u64("CLUSTER_SEEDS").unwrap_or(300),
    };
    let single = seeds.end - seeds.start == 1;
    let mut totals = router_core::Stats::default();
    let mut in_transit = 0;
    for seed in seeds {
        let _reporter = SeedReporter(seed);
        for stats in router_sim::cluster::run_cluster_seed(seed, steps) {
            totals.forwarded.frames += stats.forwarded.frames;
            totals.peer_stalls += stats.peer_stalls;
            totals.sender_pauses += stats.sender_pauses;
            totals.peer_timeouts += stats.peer_timeouts;
            totals.peer_batches_rejected += stats.peer_batches_rejected;
            in_transit += stats.dropped(router_core::DropCause::InTransit).frames;
        }
    }
    if !single {
        // The worlds must reach what they are meant to test.
        assert!(
            totals.forwarded.frames > 1000,
            "few frames forwarded: {totals:?}"
        );
        assert!(totals.peer_stalls > 0, "no window ever filled");
        assert!(totals.sender_pauses > 0, "no sender ever paused");
        assert!(totals.peer_timeouts > 0, "no peer ever timed out");
        assert!(totals.peer_batches_rejected > 0, "no batch refused");
        assert!(in_transit > 0, "no frame ever lost in transit");
    }
}
