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
    latest: Arc<Mutex<Stats>>,
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
        move |stats: &Stats| cell.lock().clone_from(stats)
    }

    /// The counters as last published.
    pub fn snapshot(&self) -> Stats {
        self.lock().clone()
    }

    /// Both sides only copy plain counters under the lock, so a panic while
    /// holding it cannot leave them half-updated in a way that matters:
    /// poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Stats> {
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
