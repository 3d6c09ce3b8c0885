//! One core's inbox: batches that arrived from NATS and wait for its loop,
//! bounded in bytes.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;

/// What one message costs the inbox at least, so that a flood of tiny
/// messages is bounded in count as well.
const MIN_MESSAGE_COST: usize = 256;

/// Batches for one core, in arrival order.
#[derive(Debug)]
pub(crate) struct Inbox {
    queue: Mutex<Queue>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Queue {
    batches: VecDeque<Bytes>,
    cost: usize,
}

fn cost(batch: &Bytes) -> usize {
    batch.len().max(MIN_MESSAGE_COST)
}

impl Inbox {
    pub(crate) fn new(capacity: usize) -> Self {
        Inbox {
            queue: Mutex::new(Queue::default()),
            capacity,
        }
    }

    /// Queues `batch`; `false` (and the batch dropped) if it does not fit.
    pub(crate) fn push(&self, batch: Bytes) -> bool {
        let mut queue = self.queue.lock().expect("inbox lock");
        let cost = cost(&batch);
        if queue.cost + cost > self.capacity {
            return false;
        }
        queue.cost += cost;
        queue.batches.push_back(batch);
        true
    }

    /// Moves up to `max` batches to `out`.
    pub(crate) fn take(&self, max: usize, out: &mut VecDeque<Bytes>) {
        let mut queue = self.queue.lock().expect("inbox lock");
        for _ in 0..max {
            let Some(batch) = queue.batches.pop_front() else {
                break;
            };
            queue.cost -= cost(&batch);
            out.push_back(batch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_inbox_refuses_and_takes_again_once_emptied() {
        let inbox = Inbox::new(3 * MIN_MESSAGE_COST);
        for _ in 0..3 {
            assert!(inbox.push(Bytes::from_static(b"tiny")));
        }
        assert!(!inbox.push(Bytes::from_static(b"tiny")), "counted 256 each");
        let mut out = VecDeque::new();
        inbox.take(2, &mut out);
        assert_eq!(out.len(), 2);
        assert!(inbox.push(Bytes::from(vec![1; 2 * MIN_MESSAGE_COST])));
        assert!(!inbox.push(Bytes::from_static(b"tiny")));
    }
}
