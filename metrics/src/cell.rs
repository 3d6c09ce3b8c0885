//! The hand-over point between the event loop, which owns the router, and
//! whoever reads its counters from another thread.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use router_core::Stats;

/// A copy of the router's [`Stats`], shared between the driver that
/// publishes it and the threads that read it. Cloning it is cheap: every clone
/// is the same cell.
///
/// The router itself stays single-threaded and lock-free: the driver copies
/// its counters here once per event-loop turn (never per frame), through
/// [`publisher`](Self::publisher). A turn already costs at least one system
/// call; the copy (a few hundred bytes under an uncontended lock) is small
/// beside it, and doing it on every turn rather than on a timer means the
/// last turn before the loop falls idle is always published, so an idle
/// router never shows stale numbers.
#[derive(Debug, Clone, Default)]
pub struct StatsCell {
    latest: Arc<Mutex<Published>>,
}

/// What a [`StatsCell`] holds: the router's counters, and each shard's
/// when it runs as several.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    /// The router's counters: the sum of its shards'.
    pub total: Stats,
    /// Each shard's, by index; empty for a router of one core.
    pub shards: Vec<ShardStats>,
}

/// One shard's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardStats {
    /// Its router core's.
    pub stats: Stats,
    /// Times a batch from another shard woke its sleeping loop.
    pub wakeups: u64,
}

impl Published {
    /// Each shard's counters, with its index as a label value.
    pub(crate) fn shards(&self) -> impl Iterator<Item = (String, &Stats)> {
        (self.shards.iter().enumerate()).map(|(index, shard)| (index.to_string(), &shard.stats))
    }
}

impl StatsCell {
    /// A cell holding all-zero counters until the first publication.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stats observer to hand to a driver: each call replaces the
    /// cell's copy with the router's current counters.
    pub fn publisher(&self) -> impl FnMut(&Stats) + Send + 'static {
        let cell = self.clone();
        move |stats: &Stats| cell.lock().total.clone_from(stats)
    }

    /// Replaces the router's counters with `total`, and each shard's with
    /// `shards`: what a sharded router's stats observer does.
    pub fn publish_shards(&self, total: &Stats, shards: &[ShardStats]) {
        let mut published = self.lock();
        published.total.clone_from(total);
        published.shards.clear();
        published.shards.extend_from_slice(shards);
    }

    /// The router's counters as last published.
    pub fn snapshot(&self) -> Stats {
        self.lock().total.clone()
    }

    /// Everything as last published, each shard's counters included.
    pub fn published(&self) -> Published {
        self.lock().clone()
    }

    /// Both sides only copy plain counters under the lock, so a panic while
    /// holding it cannot leave them half-updated in a way that matters:
    /// poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Published> {
        self.latest.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_publication_reaches_every_clone() {
        let cell = StatsCell::new();
        let reader = cell.clone();
        let mut publish = cell.publisher();
        assert_eq!(reader.snapshot(), Stats::default());

        let mut stats = Stats::default();
        stats.connections_accepted = 3;
        publish(&stats);
        assert_eq!(reader.snapshot(), stats);
    }
}
