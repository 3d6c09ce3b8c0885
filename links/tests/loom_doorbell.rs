//! The doorbell's sleep/wake hand-off under every interleaving `loom`
//! explores, with the delivery and the check modelled as a ring's own
//! release store and acquire load. Runs only under `--cfg loom`:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p router-links --release --test loom_doorbell
//! ```
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;
use router_links::{Doorbell, Wake};

/// Counts the wakes the doorbell made.
struct Woken(Arc<AtomicUsize>);

impl Wake for Woken {
    fn wake(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn doorbell() -> (Arc<Doorbell>, Arc<AtomicUsize>) {
    let woken = Arc::new(AtomicUsize::new(0));
    (
        Arc::new(Doorbell::new(Box::new(Woken(woken.clone())))),
        woken,
    )
}

/// A link's delivery: the batch is published (a ring's release store of
/// its tail), then the far loop's doorbell rung.
fn deliver(bell: Arc<Doorbell>, ring: Arc<AtomicBool>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        ring.store(true, Ordering::Release);
        bell.ring();
    })
}

#[test]
fn a_loop_going_to_sleep_either_sees_the_batch_or_is_woken() {
    loom::model(|| {
        let (bell, woken) = doorbell();
        let ring = Arc::new(AtomicBool::new(false));
        let sender = deliver(bell.clone(), ring.clone());
        // The loop: about to wait, it looks at its links once more.
        bell.sleep();
        let seen = ring.load(Ordering::Acquire);
        if seen {
            bell.awake();
        }
        sender.join().unwrap();
        assert!(
            seen || woken.load(Ordering::Relaxed) == 1,
            "the loop sleeps with a batch it did not see, and no wake"
        );
    });
}

#[test]
fn deliveries_to_a_sleeping_loop_wake_it_once() {
    loom::model(|| {
        let (bell, woken) = doorbell();
        bell.sleep();
        let senders: Vec<_> = (0..2)
            .map(|_| deliver(bell.clone(), Arc::new(AtomicBool::new(false))))
            .collect();
        for sender in senders {
            sender.join().unwrap();
        }
        assert_eq!(woken.load(Ordering::Relaxed), 1);
        assert_eq!(bell.wakeups(), 1);
    });
}

#[test]
fn a_loop_that_is_running_is_not_woken() {
    loom::model(|| {
        let (bell, woken) = doorbell();
        bell.sleep();
        bell.awake();
        deliver(bell.clone(), Arc::new(AtomicBool::new(false)))
            .join()
            .unwrap();
        assert_eq!(woken.load(Ordering::Relaxed), 0);
    });
}
