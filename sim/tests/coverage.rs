//! The seeded simulation is only as good as what it provokes: this checks that
//! a modest run of seeds reaches every drop cause, every close cause, refusals
//! and paused senders, so that a change to the generator cannot quietly turn
//! the simulation into a test that passes on a stub. The causes only peers
//! can provoke come from the cluster world's seeds.

use router_core::{CloseCause, DropCause, Stats};

#[test]
fn seeded_runs_reach_every_cause() {
    let mut runs: Vec<Stats> = (0..300)
        .map(|seed| router_sim::run_seed(seed, 400))
        .collect();
    runs.extend((0..100).flat_map(|seed| router_sim::cluster::run_cluster_seed(seed, 400)));
    let total = |count: &dyn Fn(&Stats) -> u64| runs.iter().map(count).sum::<u64>();
    for cause in DropCause::ALL {
        assert!(
            total(&|s| s.dropped(cause).frames) > 0,
            "no frame dropped as {}",
            cause.name()
        );
    }
    for cause in CloseCause::ALL {
        assert!(
            total(&|s| s.closed(cause)) > 0,
            "no connection closed as {}",
            cause.name()
        );
    }
    assert!(total(&|s| s.sender_pauses) > 0, "no sender paused");
    assert!(total(&|s| s.accept_pauses) > 0, "accepting never paused");
    assert!(
        total(&|s| s.accept_errors) > total(&|s| s.accept_pauses),
        "no accept failure of one connection"
    );
    assert!(
        total(&|s| s.connections_refused) > 0,
        "no connection refused"
    );
    assert!(
        total(&|s| s.routed.frames) > 10_000,
        "little traffic routed"
    );
}
