//! Seeded simulations: many clients misbehaving at random against one router,
//! every invariant checked after every step (see the `router-sim` crate).
//!
//! A failing seed prints itself; replay it alone with
//! `SIM_SEED=<seed> cargo test -p router-core --test simulation`.

use std::env;

/// Prints the seed if the simulation panics, so the failure can be replayed.
struct SeedReporter(u64);

impl Drop for SeedReporter {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("simulation failed: replay with SIM_SEED={}", self.0);
        }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    env::var(name).ok().map(|v| v.parse().expect("a number"))
}

#[test]
fn random_worlds_keep_every_invariant() {
    let steps = env_u64("SIM_STEPS").unwrap_or(400) as usize;
    let seeds = match env_u64("SIM_SEED") {
        Some(seed) => seed..seed + 1,
        None => 0..env_u64("SIM_SEEDS").unwrap_or(500),
    };
    for seed in seeds {
        let _reporter = SeedReporter(seed);
        router_sim::run_seed(seed, steps);
    }
}
