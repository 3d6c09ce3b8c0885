//! The counters of a sharded router: each shard's, and their sum.

use std::sync::{Arc, Mutex, PoisonError};

use router_core::Stats;

/// The caller's observer of the summed counters, and of each shard's.
type Observer = Box<dyn FnMut(&Stats, &[Stats]) + Send>;

/// Every shard's latest counters, and the observer they are summed for.
/// Each shard's loop publishes its own once per turn; the observer is
/// called with the sum and every shard's, on that loop's thread.
pub(crate) struct StatsSum {
    state: Mutex<(Vec<Stats>, Observer)>,
}

impl StatsSum {
    /// Sums for `observer` over `shards` shards.
    pub(crate) fn new(shards: usize, observer: Observer) -> Arc<Self> {
        Arc::new(StatsSum {
            state: Mutex::new((vec![Stats::default(); shards], observer)),
        })
    }

    /// The stats observer of shard `shard`.
    pub(crate) fn publisher(self: &Arc<Self>, shard: usize) -> impl FnMut(&Stats) + Send + 'static {
        let sum = self.clone();
        move |stats: &Stats| {
            // Only counters are copied under the lock: a panic elsewhere
            // cannot leave them half-updated in a way that matters.
            let mut state = sum.state.lock().unwrap_or_else(PoisonError::into_inner);
            let (shards, observer) = &mut *state;
            shards[shard].clone_from(stats);
            observer(&total(shards), shards);
        }
    }
}

/// The sum of `stats`.
pub(crate) fn total(stats: &[Stats]) -> Stats {
    stats.iter().fold(Stats::default(), |mut sum, one| {
        sum.add(one);
        sum
    })
}
