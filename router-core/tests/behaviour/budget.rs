//! The memory budget (`max_buffered_bytes`): many clients each holding a
//! partial frame cannot together take more than the budget, a well-behaved
//! pair is served meanwhile, and nothing accepted for delivery is lost.

use router_core::{CloseCause, Config, ConnHandle, DropCause, OverflowPolicy};

use crate::support::{Net, payloads};

const MAX_FRAME: usize = 1024;
const BUDGET: usize = 8 * MAX_FRAME;

fn config() -> Config {
    Config {
        max_frame_bytes: MAX_FRAME,
        max_buffered_bytes: BUDGET,
        ..Config::default()
    }
}

/// A frame header for `dest` and `len` payload bytes, with no terminator.
fn unfinished(dest: ConnHandle, len: usize) -> Vec<u8> {
    let mut bytes = dest.id().to_be_bytes().to_vec();
    bytes.extend(vec![b'u'; len]);
    bytes
}

#[test]
fn the_partial_frame_attack_is_held_to_the_budget_while_a_new_pair_is_served() {
    let mut net = Net::new(config());
    let attackers: Vec<_> = (0..40).map(|_| net.connect()).collect();
    for &attacker in &attackers {
        net.input(attacker, &unfinished(attacker, MAX_FRAME - 1));
        let held = net.router.stats().bytes_buffered as usize;
        assert!(held <= BUDGET, "{held} bytes held, over {BUDGET}");
    }
    let shed = attackers.iter().filter(|&&a| net.is_closed(a)).count();
    assert!(shed >= 40 - BUDGET / MAX_FRAME, "only {shed} shed");
    let stats = net.router.stats();
    assert_eq!(stats.closed(CloseCause::MemoryBudget), shed as u64);
    assert_eq!(stats.dropped(DropCause::Truncated).frames, shed as u64);

    let alice = net.connect();
    let bob = net.connect();
    for round in 0..10 {
        net.send(alice, bob, format!("ping {round}").as_bytes());
        net.send(bob, alice, format!("pong {round}").as_bytes());
    }
    let pings = payloads(&net.take_received(bob));
    let pongs = payloads(&net.take_received(alice));
    assert_eq!((pings.len(), pongs.len()), (10, 10));
    assert!(!net.is_closed(alice) && !net.is_closed(bob));
    assert!(net.router.stats().bytes_buffered as usize <= BUDGET);
}

#[test]
fn the_largest_unfinished_frame_goes_first() {
    let mut net = Net::new(config());
    let small = net.connect();
    let large = net.connect();
    let filler = net.connect();
    net.input(small, &unfinished(small, 100));
    net.input(large, &unfinished(large, MAX_FRAME - 1));
    // Whole frames, each to its own blocked reader, fill the budget.
    let mut readers = Vec::new();
    while !net.is_closed(large) {
        assert!(readers.len() < 16, "the budget never filled");
        let reader = net.connect();
        net.block(reader);
        net.send(filler, reader, &[b'f'; MAX_FRAME]);
        readers.push(reader);
    }
    assert!(!net.is_closed(small), "a smaller holder is kept");
    assert_eq!(net.router.stats().closed(CloseCause::MemoryBudget), 1);
    for reader in readers {
        net.unblock(reader);
        assert_eq!(
            payloads(net.received(reader)).len(),
            1,
            "no whole frame lost"
        );
    }
}

#[test]
fn a_shed_connection_gets_what_was_queued_to_it_before_it_closes() {
    let mut net = Net::new(config());
    let sender = net.connect();
    let holder = net.connect();
    net.block(holder);
    net.send(sender, holder, b"accepted for delivery");
    net.input(holder, &unfinished(sender, MAX_FRAME - 1));
    while !net.router.connection_info(holder).unwrap().closing {
        let other = net.connect();
        net.input(other, &unfinished(other, MAX_FRAME / 2));
        assert!(!net.is_closed(other), "a smaller holder was shed first");
    }
    assert!(!net.router.wants_read(holder));
    net.unblock(holder);
    assert_eq!(payloads(net.received(holder)), [b"accepted for delivery"]);
    assert!(net.is_closed(holder));
    assert_eq!(net.router.stats().closed(CloseCause::MemoryBudget), 1);
}

#[test]
fn over_the_budget_with_whole_frames_only_a_destination_with_a_queue_takes_no_more() {
    for policy in [OverflowPolicy::Pause, OverflowPolicy::Drop] {
        let mut net = Net::new(Config {
            overflow_policy: policy,
            ..config()
        });
        let sender = net.connect();
        let slow = net.connect();
        let reader = net.connect();
        net.block(slow);
        // Far under the high-water mark (1 MiB), but over the budget.
        let mut sent = 0;
        while net.router.stats().bytes_buffered as usize <= BUDGET {
            net.send(sender, slow, &[b's'; MAX_FRAME]);
            sent += 1;
        }
        let before = net.router.stats().clone();
        net.send(sender, slow, &[b's'; MAX_FRAME]);
        let stats = net.router.stats();
        match policy {
            OverflowPolicy::Pause => {
                assert!(net.router.connection_info(sender).unwrap().paused);
                assert_eq!(stats.budget_pauses, before.budget_pauses + 1);
            }
            OverflowPolicy::Drop => {
                assert_eq!(stats.dropped(DropCause::MemoryBudget).frames, 1);
                // An empty destination still takes frames.
                net.send(sender, reader, b"still served");
                assert_eq!(payloads(net.received(reader)), [b"still served"]);
            }
        }
        net.unblock(slow);
        let expected = match policy {
            OverflowPolicy::Pause => sent + 1,
            OverflowPolicy::Drop => sent,
        };
        assert_eq!(payloads(net.received(slow)).len(), expected, "{policy:?}");
        assert!(!net.router.connection_info(sender).unwrap().paused);
    }
}
