//! Per-connection deadlines in a min-heap with lazy deletion.
//!
//! A connection's deadline (write stall or idle) moves on nearly every event;
//! re-keying a heap entry each time would cost a log-time update per frame.
//! Instead each connection remembers the one instant it is scheduled at. A
//! deadline that moves later leaves the entry alone; one that moves earlier
//! pushes a new entry and the old one becomes stale. After every call the
//! router pops stale entries off the top (rescheduling a connection whose
//! deadline moved later), so the earliest entry is always exact and
//! `poll_timeout` is a peek, never a scan of every connection. Each entry is
//! pushed and popped once, and the heap holds about one entry per connection
//! with a deadline.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use rustc_hash::FxHashMap;

use crate::config::Config;
use crate::conn::{Conn, DeadlineKind};

#[derive(Debug, Default)]
pub(crate) struct DeadlineQueue {
    heap: BinaryHeap<Reverse<(Instant, u32)>>,
}

impl DeadlineQueue {
    /// Records that connection `id` wants to wake at `at`. The caller keeps `at`
    /// as the connection's scheduled instant, to recognise stale entries.
    pub(crate) fn push(&mut self, at: Instant, id: u32) {
        self.heap.push(Reverse((at, id)));
    }

    /// The earliest entry, which may be stale until the router has checked it.
    pub(crate) fn first(&self) -> Option<(Instant, u32)> {
        self.heap.peek().map(|Reverse(entry)| *entry)
    }

    /// Removes the earliest entry.
    pub(crate) fn pop_first(&mut self) {
        self.heap.pop();
    }

    /// Removes and returns an entry due at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, u32)> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse(entry)| entry),
            _ => None,
        }
    }
}

impl DeadlineQueue {
    /// Makes sure the queue will wake connection `id` (`c`) no later than its
    /// deadline: pushes an entry only if the deadline moved earlier than the
    /// one it is scheduled at.
    pub(crate) fn reschedule(&mut self, id: u32, c: &mut Conn, config: &Config) {
        let Some((at, _)) = c.deadline(config.write_stall_timeout, config.idle_timeout) else {
            return;
        };
        if c.scheduled.is_none_or(|scheduled| at < scheduled) {
            c.scheduled = Some(at);
            self.push(at, id);
        }
    }

    /// The next connection whose deadline has passed at `now`, and which
    /// deadline: pops due entries, skipping stale ones and rescheduling a
    /// connection whose deadline moved later since it was scheduled.
    pub(crate) fn pop_expired(
        &mut self,
        conns: &mut FxHashMap<u32, Conn>,
        config: &Config,
        now: Instant,
    ) -> Option<(u32, DeadlineKind)> {
        while let Some((at, id)) = self.pop_due(now) {
            let Some(c) = conns.get_mut(&id) else {
                continue; // Closed since.
            };
            if c.scheduled != Some(at) {
                continue; // Superseded by an earlier entry.
            }
            c.scheduled = None;
            match c.deadline(config.write_stall_timeout, config.idle_timeout) {
                Some((due, kind)) if due <= now => return Some((id, kind)),
                Some(_) => self.reschedule(id, c, config),
                None => {}
            }
        }
        None
    }

    /// Pops entries off the top until the earliest one is a live
    /// connection's true deadline, so that `poll_timeout` never wakes the
    /// driver for nothing. An entry is stale once its connection closed, was
    /// scheduled earlier since, or saw its deadline move later (it is
    /// rescheduled) or vanish (its ID was written, it went idle with no idle
    /// timeout). Each entry is popped once: amortised O(log n).
    pub(crate) fn discard_stale(&mut self, conns: &mut FxHashMap<u32, Conn>, config: &Config) {
        while let Some((at, id)) = self.first() {
            let current = conns.get_mut(&id).filter(|c| c.scheduled == Some(at));
            let Some(c) = current else {
                self.pop_first();
                continue;
            };
            let due = c.deadline(config.write_stall_timeout, config.idle_timeout);
            if due.is_some_and(|(due, _)| due == at) {
                return;
            }
            c.scheduled = None;
            self.pop_first();
            self.reschedule(id, c, config);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pops_due_entries_earliest_first() {
        let start = router_sim::epoch();
        let mut queue = DeadlineQueue::default();
        queue.push(start + Duration::from_secs(2), 1);
        queue.push(start + Duration::from_secs(1), 2);
        assert_eq!(queue.first(), Some((start + Duration::from_secs(1), 2)));
        assert_eq!(queue.pop_due(start), None);
        let later = start + Duration::from_secs(5);
        assert_eq!(queue.pop_due(later).map(|(_, id)| id), Some(2));
        assert_eq!(queue.pop_due(later).map(|(_, id)| id), Some(1));
        assert_eq!(queue.pop_due(later), None);
        assert_eq!(queue.first(), None);
    }
}
