//! A rate limit for log lines that clients can trigger.
//!
//! A client that misbehaves in a loop (reconnects and sends an oversized
//! frame, say) would otherwise write one log line per cycle, and a few
//! thousand clients could fill a disk or drown the lines that matter. Each
//! kind of line gets a [`LogLimit`]: the first occurrence is logged, then at
//! most one per interval, carrying the number of occurrences suppressed since
//! the last line, so nothing goes unreported; the counters in
//! [`Stats`](crate::Stats) count every occurrence regardless.

use std::time::{Duration, Instant};

/// The interval the router's own limits use: one line per kind per 10 s.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// At most one log line per interval, counting the ones it holds back.
/// Time is an argument, like everywhere in the core.
#[derive(Debug, Clone)]
pub struct LogLimit {
    interval: Duration,
    last_logged: Option<Instant>,
    suppressed: u64,
}

impl LogLimit {
    /// A limit of one line per `interval`.
    pub const fn new(interval: Duration) -> Self {
        LogLimit {
            interval,
            last_logged: None,
            suppressed: 0,
        }
    }

    /// Something worth a line happened at `now`. Returns `Some(suppressed)`
    /// if the line should be written, with the number of occurrences held
    /// back since the last line, or `None` if this one is held back too.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        let recent = self
            .last_logged
            .is_some_and(|at| now.saturating_duration_since(at) < self.interval);
        if recent {
            self.suppressed += 1;
            return None;
        }
        self.last_logged = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

impl Default for LogLimit {
    /// One line per [`LOG_INTERVAL`].
    fn default() -> Self {
        LogLimit::new(LOG_INTERVAL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_the_first_then_one_per_interval_with_the_count_held_back() {
        let start = router_sim::epoch();
        let mut limit = LogLimit::new(Duration::from_secs(10));
        assert_eq!(limit.allow(start), Some(0));
        for ms in 1..=999 {
            assert_eq!(limit.allow(start + Duration::from_millis(ms)), None);
        }
        assert_eq!(limit.allow(start + Duration::from_secs(9)), None);
        assert_eq!(limit.allow(start + Duration::from_secs(10)), Some(1000));
        assert_eq!(limit.allow(start + Duration::from_secs(11)), None);
        assert_eq!(limit.allow(start + Duration::from_secs(25)), Some(1));
    }

    #[test]
    fn a_clock_that_goes_back_holds_lines_back_rather_than_flood() {
        let start = router_sim::epoch() + Duration::from_secs(60);
        let mut limit = LogLimit::default();
        assert_eq!(limit.allow(start), Some(0));
        assert_eq!(limit.allow(start - Duration::from_secs(30)), None);
    }
}
