//! Waking a sleeping event loop from another thread, only when it sleeps.

#[cfg(loom)]
use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};

/// How a loop is woken from another thread: a `mio::Waker`, or the waker of
/// an async task.
pub trait Wake: Send + Sync {
    /// Makes the loop's wait return soon. Called from any thread.
    fn wake(&self);
}

/// One core's doorbell, rung by every link that brings it batches.
///
/// The loop says it is about to sleep with [`sleep`](Self::sleep), then
/// checks its links once more, and calls [`awake`](Self::awake) when it has
/// work after all, and after every wait. A link that delivered a batch
/// rings; the ring wakes the loop only if it is asleep, so a busy loop costs
/// its peers no system call, and does not even write the flag's cache line.
/// The order (flag, then check; deliver, then ring), with a sequentially
/// consistent fence between the two steps on each side, means a batch is
/// never left unseen by a sleeping loop: either the loop's last check sees
/// it, or the ring sees the flag. Fences, not sequentially consistent
/// accesses of the flag alone: the delivery and the check are the links'
/// own release store and acquire load (a ring's tail), which a store and
/// load of the flag do not order (on ARM an acquire load may pass an
/// earlier release store). `tests/loom_doorbell.rs` checks the hand-off
/// under every interleaving `loom` explores.
pub struct Doorbell {
    asleep: AtomicBool,
    wake: Box<dyn Wake>,
    wakeups: AtomicU64,
}

impl Doorbell {
    /// A doorbell that wakes the loop through `wake`.
    pub fn new(wake: Box<dyn Wake>) -> Self {
        Doorbell {
            asleep: AtomicBool::new(false),
            wake,
            wakeups: AtomicU64::new(0),
        }
    }

    /// A batch was delivered: wakes the loop if it sleeps.
    pub fn ring(&self) {
        // Pairs with the fence in `sleep`: either the loop's check after
        // that fence sees the delivery before this one, or this load sees
        // its flag. Only one ring that sees it wins the swap, and wakes.
        fence(Ordering::SeqCst);
        if self.asleep.load(Ordering::Relaxed) && self.asleep.swap(false, Ordering::Relaxed) {
            self.wakeups.fetch_add(1, Ordering::Relaxed);
            self.wake.wake();
        }
    }

    /// The loop is about to wait: a ring from now on wakes it. Check every
    /// link once more after this, and call [`awake`](Self::awake) instead of
    /// waiting if one had something.
    pub fn sleep(&self) {
        self.asleep.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    /// The loop is running: rings cost nothing until it sleeps again. (A
    /// ring that still sees the flag only wakes the loop once more.)
    pub fn awake(&self) {
        self.asleep.store(false, Ordering::Relaxed);
    }

    /// How many times a ring woke the loop, for the stats.
    pub fn wakeups(&self) -> u64 {
        self.wakeups.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Doorbell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Doorbell")
            .field("asleep", &self.asleep.load(Ordering::Relaxed))
            .field("wakeups", &self.wakeups())
            .finish_non_exhaustive()
    }
}

// With `--cfg loom`, the atomics are loom's, which only work inside a loom
// model: `tests/loom_doorbell.rs` tests it then.
#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Default)]
    struct Counter(AtomicU64);

    impl Wake for Arc<Counter> {
        fn wake(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn doorbell() -> (Doorbell, Arc<Counter>) {
        let counter = Arc::new(Counter::default());
        (Doorbell::new(Box::new(counter.clone())), counter)
    }

    #[test]
    fn a_ring_wakes_only_a_sleeping_loop() {
        let (bell, woken) = doorbell();
        bell.ring();
        assert_eq!(woken.0.load(Ordering::SeqCst), 0, "the loop was awake");
        bell.sleep();
        bell.ring();
        assert_eq!(woken.0.load(Ordering::SeqCst), 1);
        assert_eq!(bell.wakeups(), 1);
    }

    #[test]
    fn one_sleep_costs_one_wakeup_however_many_rings() {
        let (bell, woken) = doorbell();
        bell.sleep();
        for _ in 0..5 {
            bell.ring();
        }
        assert_eq!(woken.0.load(Ordering::SeqCst), 1);
        assert_eq!(bell.wakeups(), 1);
    }

    #[test]
    fn an_awake_loop_is_not_woken() {
        let (bell, woken) = doorbell();
        bell.sleep();
        bell.awake();
        bell.ring();
        assert_eq!(woken.0.load(Ordering::SeqCst), 0);
        assert_eq!(bell.wakeups(), 0);
    }
}
