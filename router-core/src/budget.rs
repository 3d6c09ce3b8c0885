//! One bound on the memory of all connections together:
//! [`Config::max_buffered_bytes`](crate::Config::max_buffered_bytes).
//!
//! Each connection's buffers are bounded by the other limits, but their sum
//! is not: a thousand clients that each send a frame header and just under
//! `max_frame_bytes`, then wait, hold a gigabyte. The budget keeps the sum of
//! every connection's [`Footprint`] and, per connection, the bytes of frame
//! it has started and not finished, so that the router can tell when it is
//! over the bound and who holds the most unfinished bytes: those bytes are
//! the only ones it may give up without losing a frame already accepted for
//! delivery.
//!
//! The router recounts a connection on the spot where the busy paths change
//! its buffers (reading, routing a frame, writing), which costs no lookup,
//! and elsewhere (EOF, resuming, shutdown) notes it as touched
//! ([`touch`](MemoryBudget::touch)) and recounts it when the call settles.

use std::collections::BTreeSet;
use std::mem;

/// What one connection holds, as last accounted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Footprint {
    /// Heap bytes of its buffers: inbound, outbound, and a held frame.
    pub(crate) heap: usize,
    /// Bytes of a frame it has started sending and not finished. Zero while
    /// it is paused (what it buffered then is whole frames, accepted) and
    /// once it is closing.
    pub(crate) unfinished: usize,
}

/// The running total of every connection's [`Footprint`], against a limit.
#[derive(Debug)]
pub(crate) struct MemoryBudget {
    limit: usize,
    held: usize,
    /// `(unfinished bytes, id)` of every connection with unfinished bytes,
    /// so that the largest holder is the last entry.
    unfinished: BTreeSet<(usize, u32)>,
    /// Connections whose buffers may have changed since the last accounting.
    /// May list one twice: accounting is idempotent.
    touched: Vec<u32>,
}

impl MemoryBudget {
    pub(crate) fn new(limit: usize) -> Self {
        MemoryBudget {
            limit,
            held: 0,
            unfinished: BTreeSet::new(),
            touched: Vec::new(),
        }
    }

    /// Heap bytes held by all connections, as last accounted.
    pub(crate) fn held(&self) -> usize {
        self.held
    }

    /// Whether the connections hold more than the limit.
    pub(crate) fn is_over(&self) -> bool {
        self.held > self.limit
    }

    /// Notes that `id`'s buffers may have changed.
    pub(crate) fn touch(&mut self, id: u32) {
        if self.touched.last() != Some(&id) {
            self.touched.push(id);
        }
    }

    /// A connection to account again, if any is left since the last call.
    pub(crate) fn next_touched(&mut self) -> Option<u32> {
        self.touched.pop()
    }

    /// Counts `id` as holding `now` instead of what was `accounted` for it,
    /// which becomes `now`. A closed connection holds the default, empty one.
    pub(crate) fn recount(&mut self, id: u32, accounted: &mut Footprint, now: Footprint) {
        let old = mem::replace(accounted, now);
        self.replace(id, old, now);
    }

    fn replace(&mut self, id: u32, old: Footprint, new: Footprint) {
        self.held = self.held - old.heap + new.heap;
        if old.unfinished != new.unfinished {
            if old.unfinished > 0 {
                self.unfinished.remove(&(old.unfinished, id));
            }
            if new.unfinished > 0 {
                self.unfinished.insert((new.unfinished, id));
            }
        }
    }

    /// The connection holding the most unfinished bytes, if any holds some.
    pub(crate) fn largest_unfinished(&self) -> Option<u32> {
        self.unfinished.last().map(|&(_, id)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn footprint(heap: usize, unfinished: usize) -> Footprint {
        Footprint { heap, unfinished }
    }

    #[test]
    fn totals_follow_each_connections_latest_footprint() {
        let mut budget = MemoryBudget::new(100);
        budget.replace(1, Footprint::default(), footprint(60, 50));
        budget.replace(2, Footprint::default(), footprint(30, 0));
        assert_eq!((budget.held(), budget.is_over()), (90, false));
        budget.replace(2, footprint(30, 0), footprint(45, 40));
        assert_eq!((budget.held(), budget.is_over()), (105, true));
        assert_eq!(budget.largest_unfinished(), Some(1));
        budget.replace(1, footprint(60, 50), Footprint::default());
        assert_eq!((budget.held(), budget.is_over()), (45, false));
        assert_eq!(budget.largest_unfinished(), Some(2));
        budget.replace(2, footprint(45, 40), footprint(10, 0));
        assert_eq!(budget.largest_unfinished(), None);
    }

    #[test]
    fn touched_connections_come_back_once_per_run_of_touches() {
        let mut budget = MemoryBudget::new(1);
        for id in [3, 3, 3, 4, 3] {
            budget.touch(id);
        }
        let touched: Vec<u32> = std::iter::from_fn(|| budget.next_touched()).collect();
        assert_eq!(touched, [3, 4, 3]);
    }
}
