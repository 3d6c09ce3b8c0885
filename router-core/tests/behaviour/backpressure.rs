//! Backpressure: a destination's queue is bounded by its high-water mark; a
//! sender to a full destination is paused (or its frame dropped), and no
//! other pair ever waits for it.

use router_core::{Config, ConnHandle, DropCause, FrameCount, OverflowPolicy};

use crate::support::{Net, Told, frame, payload, payloads};

const HIGH_WATER: usize = 100;
const LOW_WATER: usize = 40;
/// Queued size of one test frame: 24 payload bytes and the terminator, so
/// that four of them fill a queue exactly to the high-water mark.
const FRAME_LEN: usize = 25;

fn config(overflow_policy: OverflowPolicy) -> Config {
    Config {
        outbound_high_water: HIGH_WATER,
        outbound_low_water: LOW_WATER,
        overflow_policy,
        ..Config::default()
    }
}

fn numbered(n: usize) -> Vec<u8> {
    payload(&format!("frame {n} "), FRAME_LEN - 1)
}

/// A router with a sender, and a destination whose socket accepts nothing.
fn sender_and_stuck_destination(policy: OverflowPolicy) -> (Net, ConnHandle, ConnHandle) {
    let mut net = Net::new(config(policy));
    let sender = net.connect();
    let stuck = net.connect();
    net.block(stuck);
    (net, sender, stuck)
}

fn queued(net: &Net, conn: ConnHandle) -> usize {
    net.router.connection_info(conn).unwrap().queued_bytes
}

#[test]
fn sender_pauses_only_once_its_destination_is_above_high_water() {
    let (mut net, sender, stuck) = sender_and_stuck_destination(OverflowPolicy::Pause);
    for n in 0..4 {
        assert_eq!(net.send(sender, stuck, &numbered(n)), []);
    }
    assert_eq!(queued(&net, stuck), HIGH_WATER);
    // At the mark is not above it: this frame is still queued.
    assert_eq!(net.send(sender, stuck, &numbered(4)), []);
    assert_eq!(queued(&net, stuck), HIGH_WATER + FRAME_LEN);
    assert!(net.router.wants_read(sender));

    assert_eq!(net.send(sender, stuck, &numbered(5)), []);
    assert!(!net.router.wants_read(sender));
    assert!(net.router.connection_info(sender).unwrap().paused);
    assert_eq!(net.router.stats().senders_paused, 1);
    assert_eq!(
        queued(&net, stuck),
        HIGH_WATER + FRAME_LEN,
        "frame 5 is held"
    );
}

#[test]
fn paused_sender_resumes_below_low_water_and_nothing_is_lost() {
    let (mut net, sender, stuck) = sender_and_stuck_destination(OverflowPolicy::Pause);
    for n in 0..6 {
        net.send(sender, stuck, &numbered(n));
    }
    assert_eq!(net.router.stats().senders_paused, 1);
    // Down to exactly the low-water mark: not below it yet.
    let events = net.allow(stuck, HIGH_WATER + FRAME_LEN - LOW_WATER);
    assert_eq!(events, []);
    assert_eq!(queued(&net, stuck), LOW_WATER);
    assert!(!net.router.wants_read(sender));

    let events = net.allow(stuck, 1);
    assert_eq!(events, [Told::ResumeReading(sender)]);
    assert!(net.router.wants_read(sender));
    assert_eq!(net.router.stats().senders_paused, 0);
    assert_eq!(
        queued(&net, stuck),
        LOW_WATER - 1 + FRAME_LEN,
        "held frame queued"
    );

    net.unblock(stuck);
    let expected: Vec<_> = (0..6).map(numbered).collect();
    assert_eq!(payloads(&net.take_received(stuck)), expected);
}

#[test]
fn a_full_destination_delays_no_other_pair() {
    let (mut net, sender, stuck) = sender_and_stuck_destination(OverflowPolicy::Pause);
    let other = net.connect();
    let third = net.connect();
    for n in 0..6 {
        net.send(sender, stuck, &numbered(n));
    }
    assert!(!net.router.wants_read(sender));

    assert_eq!(net.send(other, third, b"unaffected"), []);
    assert_eq!(net.take_received(third), b"unaffected\0");
    assert_eq!(net.send(third, other, b"both ways"), []);
    assert_eq!(net.take_received(other), b"both ways\0");
    // The paused sender still receives: only its reading is paused.
    assert_eq!(net.send(other, sender, b"to the paused one"), []);
    assert_eq!(net.take_received(sender), b"to the paused one\0");
    assert!(net.router.wants_read(other) && net.router.wants_read(third));
}

#[test]
fn input_read_while_paused_is_buffered_and_routed_after_resume() {
    let (mut net, sender, stuck) = sender_and_stuck_destination(OverflowPolicy::Pause);
    let other = net.connect();
    for n in 0..5 {
        net.send(sender, stuck, &numbered(n));
    }
    // One read that pauses at its first frame: the rest is buffered, and the
    // frame to `other` waits behind the held one (the sender's stream is ordered).
    let split_frame = frame(other, b"split across reads");
    let in_flight = [
        frame(stuck, &numbered(5)),
        frame(other, b"after the held frame"),
        split_frame[..7].to_vec(),
    ]
    .concat();
    assert_eq!(net.input(sender, &in_flight), []);
    assert!(!net.router.wants_read(sender), "paused");
    // A driver may still hand over a read that was in flight when it paused.
    let late_read = [split_frame[7..].to_vec(), frame(stuck, &numbered(6))].concat();
    assert_eq!(net.input(sender, &late_read), []);
    let info = net.router.connection_info(sender).unwrap();
    let held_len = 4 + FRAME_LEN;
    assert_eq!(
        info.buffered_bytes,
        in_flight.len() - held_len + late_read.len()
    );
    assert_eq!(net.received(other), b"", "waits behind the held frame");
    let received_before = net.router.stats().received.frames;

    assert_eq!(net.unblock(stuck), [Told::ResumeReading(sender)]);
    assert_eq!(
        net.take_received(other),
        b"after the held frame\0split across reads\0"
    );
    let expected: Vec<_> = (0..7).map(numbered).collect();
    assert_eq!(payloads(&net.take_received(stuck)), expected);
    assert_eq!(net.router.stats().received.frames, received_before + 3);
    assert_eq!(
        net.router.connection_info(sender).unwrap().buffered_bytes,
        0
    );
}

#[test]
fn sender_paused_again_by_its_own_buffered_frames_gets_no_extra_events() {
    let (mut net, sender, stuck) = sender_and_stuck_destination(OverflowPolicy::Pause);
    for n in 0..5 {
        net.send(sender, stuck, &numbered(n));
    }
    // Frame 5 is held; 6 to 9 are buffered behind it.
    let read: Vec<u8> = (5..10).flat_map(|n| frame(stuck, &numbered(n))).collect();
    assert_eq!(net.input(sender, &read), []);
    assert!(!net.router.wants_read(sender), "paused");
    // Drained just below low water: frames 5, 6 and 7 fit, 8 finds it full
    // again. The driver never learns of the brief resume.
    let events = net.allow(stuck, HIGH_WATER + FRAME_LEN - LOW_WATER + 1);
    assert_eq!(events, []);
    assert!(!net.router.wants_read(sender));
    assert_eq!(net.router.stats().senders_paused, 1);
    assert_eq!(queued(&net, stuck), LOW_WATER - 1 + 3 * FRAME_LEN);

    assert_eq!(net.unblock(stuck), [Told::ResumeReading(sender)]);
    let expected: Vec<_> = (0..10).map(numbered).collect();
    assert_eq!(payloads(&net.take_received(stuck)), expected);
}

#[test]
fn every_sender_paused_on_a_destination_resumes_when_it_drains() {
    let (mut net, first, stuck) = sender_and_stuck_destination(OverflowPolicy::Pause);
    let second = net.connect();
    for n in 0..5 {
        net.send(first, stuck, &numbered(n));
    }
    assert_eq!(net.send(first, stuck, &numbered(5)), []);
    assert!(!net.router.wants_read(first), "paused");
    assert_eq!(net.send(second, stuck, &numbered(6)), []);
    assert!(!net.router.wants_read(second), "paused");
    assert_eq!(net.router.stats().senders_paused, 2);

    let events = net.unblock(stuck);
    assert_eq!(
        events,
        [Told::ResumeReading(first), Told::ResumeReading(second)]
    );
    assert_eq!(net.router.stats().senders_paused, 0);
    let expected: Vec<_> = (0..7).map(numbered).collect();
    assert_eq!(payloads(&net.take_received(stuck)), expected);
}

#[test]
fn drop_policy_drops_frames_to_a_full_destination_and_never_pauses() {
    let (mut net, sender, stuck) = sender_and_stuck_destination(OverflowPolicy::Drop);
    let other = net.connect();
    for n in 0..8 {
        assert_eq!(net.send(sender, stuck, &numbered(n)), [], "never paused");
        assert!(net.router.wants_read(sender));
    }
    let stats = net.router.stats();
    assert_eq!(stats.senders_paused, 0);
    assert_eq!(
        stats.dropped(DropCause::DestinationFull),
        FrameCount {
            frames: 3,
            bytes: 3 * FRAME_LEN as u64
        }
    );
    // The sender's other traffic flows while its frames to `stuck` are dropped.
    net.send(sender, other, b"meanwhile");
    assert_eq!(net.take_received(other), b"meanwhile\0");

    net.unblock(stuck);
    let expected: Vec<_> = (0..5).map(numbered).collect();
    assert_eq!(payloads(&net.take_received(stuck)), expected);
    // Drained, it takes frames again.
    net.send(sender, stuck, &numbered(8));
    assert_eq!(payloads(&net.take_received(stuck)), [numbered(8)]);
}

#[test]
fn a_client_that_floods_itself_without_reading_pauses_then_resumes_on_reading() {
    let mut net = Net::new(config(OverflowPolicy::Pause));
    let narcissus = net.connect();
    net.block(narcissus);
    let read: Vec<u8> = (0..8)
        .flat_map(|n| frame(narcissus, &numbered(n)))
        .collect();
    assert_eq!(net.input(narcissus, &read), []);
    assert!(!net.router.wants_read(narcissus), "paused");
    assert_eq!(net.unblock(narcissus), [Told::ResumeReading(narcissus)]);
    let expected: Vec<_> = (0..8).map(numbered).collect();
    assert_eq!(payloads(&net.take_received(narcissus)), expected);
}
