//! A caller's callback that sees the router's counters once per loop turn.

use std::fmt;

use router_core::Stats;

/// What [`Server::with_stats_observer`](crate::Server::with_stats_observer)
/// installs, boxed so that the server keeps one type whatever the callback.
pub(crate) struct StatsObserver(Box<dyn FnMut(&Stats) + Send>);

impl StatsObserver {
    pub(crate) fn new(observer: impl FnMut(&Stats) + Send + 'static) -> Self {
        StatsObserver(Box::new(observer))
    }

    pub(crate) fn observe(&mut self, stats: &Stats) {
        (self.0)(stats);
    }
}

impl fmt::Debug for StatsObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StatsObserver")
    }
}
