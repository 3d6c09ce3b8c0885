//! A connection's life: EOF, reset, protocol violation, the connection limit,
//! and the router's own shutdown.

use std::time::Duration;

use router_core::{
    AcceptError, CloseCause, Config, ConnHandle, DropCause, FrameCount, OverflowPolicy,
};

use crate::support::{Net, Told, frame, payloads, secs};

const MAX_FRAME: usize = 16;

fn small_frames() -> Config {
    Config {
        max_frame_bytes: MAX_FRAME,
        ..Config::default()
    }
}

/// Room for one 12-byte frame before a destination counts as full.
fn small_queues() -> Config {
    Config {
        outbound_high_water: 10,
        outbound_low_water: 5,
        overflow_policy: OverflowPolicy::Pause,
        ..Config::default()
    }
}

/// A sender paused behind `stuck`, a client that does not read and whose
/// queue is full: after the frame that filled the queue, the sender's last
/// read brought two whole frames for `stuck` ("held", "buffered": 5 + 9
/// bytes) and the first 2 payload bytes of a third, none of them routed.
/// Returns the net, the sender and `stuck`.
fn sender_paused_with_unrouted_frames() -> (Net, ConnHandle, ConnHandle) {
    let mut net = Net::new(small_queues());
    let sender = net.connect();
    let stuck = net.connect();
    net.block(stuck);
    net.send(sender, stuck, b"fills it up");
    let read = [
        frame(stuck, b"held"),
        frame(stuck, b"buffered"),
        frame(stuck, b"partial")[..6].to_vec(),
    ]
    .concat();
    assert_eq!(net.input(sender, &read), []);
    assert!(!net.router.wants_read(sender), "paused");
    (net, sender, stuck)
}

fn sorted(mut told: Vec<Told>) -> Vec<Told> {
    told.sort_by_key(|told| match told {
        Told::Close(conn) | Told::ResumeReading(conn) => conn.id(),
        Told::StopListening => 0,
    });
    told
}

#[test]
fn eof_after_complete_frames_delivers_them_all_then_closes() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let receiver = net.connect();
    let read: Vec<u8> = [b"one".as_slice(), b"two", b"three"]
        .iter()
        .flat_map(|p| frame(receiver, p))
        .collect();
    // Data and EOF seen in the same wake-up, before the router is drained.
    net.router.handle_input(sender, &read, net.now);
    net.router.handle_eof(sender, net.now);
    assert_eq!(net.drive(), [Told::Close(sender)]);
    assert_eq!(net.take_received(receiver), b"one\0two\0three\0");
    assert_eq!(net.router.stats().closed(CloseCause::Eof), 1);
}

#[test]
fn eof_mid_frame_discards_the_partial_frame() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let receiver = net.connect();
    let partial = &frame(receiver, b"cut short")[..7];
    net.input(
        sender,
        &[frame(receiver, b"whole"), partial.to_vec()].concat(),
    );
    assert_eq!(net.eof(sender), [Told::Close(sender)]);
    assert_eq!(net.take_received(receiver), b"whole\0");
    let stats = net.router.stats();
    assert_eq!(
        stats.dropped(DropCause::Truncated),
        FrameCount {
            frames: 1,
            bytes: 3
        },
        "one partial frame of 3 payload bytes"
    );
    assert_eq!(stats.received.frames, 1);
}

#[test]
fn eof_flushes_what_is_queued_to_the_client_then_closes_it() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let leaving = net.connect();
    net.block(leaving);
    net.send(sender, leaving, b"last words");
    net.send(sender, leaving, b"really last");

    assert_eq!(net.eof(leaving), [], "not before its queue is flushed");
    let info = net.router.connection_info(leaving).unwrap();
    assert!(info.closing);
    assert!(!net.router.wants_read(leaving));
    net.limit_writes(leaving, 4);
    assert_eq!(net.allow(leaving, 10), []);
    assert_eq!(net.unblock(leaving), [Told::Close(leaving)]);
    assert_eq!(net.received(leaving), b"last words\0really last\0");
    assert_eq!(net.router.stats().closed(CloseCause::Eof), 1);
}

#[test]
fn frames_to_a_client_after_its_eof_are_dropped_and_its_id_is_retired() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let leaving = net.connect();
    net.block(leaving);
    net.send(sender, leaving, b"queued before eof");
    net.eof(leaving);

    net.send(sender, leaving, b"while it flushes");
    assert_eq!(
        net.router.stats().dropped(DropCause::DestinationClosed),
        FrameCount {
            frames: 1,
            bytes: 17
        }
    );
    assert_eq!(net.unblock(leaving), [Told::Close(leaving)]);
    assert_eq!(net.received(leaving), b"queued before eof\0");

    assert_eq!(net.send(sender, leaving, b"after close"), []);
    assert_eq!(
        net.router
            .stats()
            .dropped(DropCause::UnknownDestination)
            .frames,
        1
    );
    assert!(net.router.wants_read(sender));
    assert_ne!(net.connect(), leaving, "not handed out again");
}

#[test]
fn flushing_after_eof_is_bounded_by_the_write_stall_timeout() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let leaving = net.connect();
    net.block(leaving);
    net.send(sender, leaving, b"never read");
    net.eof(leaving);
    assert_eq!(net.tick(secs(30)), [Told::Close(leaving)]);
    let stats = net.router.stats();
    assert_eq!(stats.closed(CloseCause::WriteStall), 1);
    assert_eq!(stats.dropped(DropCause::DestinationClosed).frames, 1);
}

#[test]
fn input_after_eof_is_ignored() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let receiver = net.connect();
    net.block(sender); // Keeps it open, flushing, after its EOF.
    net.send(receiver, sender, b"pending");
    net.eof(sender);
    assert_eq!(net.send(sender, receiver, b"too late"), []);
    assert_eq!(net.received(receiver), b"");
    assert_eq!(net.router.stats().received.frames, 1);
}

#[test]
fn senders_held_behind_a_destination_that_reads_eof_resume_at_once() {
    let mut net = Net::new(small_queues());
    let sender = net.connect();
    let leaving = net.connect();
    let other = net.connect();
    net.block(leaving);
    net.send(sender, leaving, b"fills it up");
    let read = [frame(leaving, b"held"), frame(other, b"behind it")].concat();
    assert_eq!(net.input(sender, &read), []);
    assert!(!net.router.wants_read(sender), "paused");

    // The destination will take no new frame, so the held one can only be
    // dropped: the sender need not wait for the flush.
    assert_eq!(net.eof(leaving), [Told::ResumeReading(sender)]);
    assert_eq!(net.take_received(other), b"behind it\0");
    let stats = net.router.stats();
    assert_eq!(stats.senders_paused, 0);
    assert_eq!(
        stats.dropped(DropCause::DestinationClosed),
        FrameCount {
            frames: 1,
            bytes: 5
        }
    );
    assert!(!net.is_closed(leaving), "still flushing");
}

#[test]
fn paused_sender_that_reads_eof_delivers_its_frames_once_unblocked_then_closes() {
    let mut net = Net::new(small_queues());
    let sender = net.connect();
    let stuck = net.connect();
    net.block(stuck);
    net.send(sender, stuck, b"fills it up");
    let read = [frame(stuck, b"held"), frame(stuck, b"buffered")].concat();
    assert_eq!(net.input(sender, &read), []);
    assert!(!net.router.wants_read(sender), "paused");
    assert_eq!(net.eof(sender), [], "its frames are not delivered yet");
    assert!(net.router.connection_info(sender).unwrap().closing);

    assert_eq!(net.unblock(stuck), [Told::Close(sender)]);
    assert_eq!(
        payloads(&net.take_received(stuck)),
        [&b"fills it up"[..], b"held", b"buffered"]
    );
    assert_eq!(net.router.stats().closed(CloseCause::Eof), 1);
    assert_eq!(net.router.stats().senders_paused, 0);
}

#[test]
fn reset_closes_at_once_and_counts_what_was_queued() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let broken = net.connect();
    net.block(broken);
    net.send(sender, broken, b"lost");
    net.send(sender, broken, b"also lost");
    assert_eq!(net.reset(broken), [Told::Close(broken)]);
    let stats = net.router.stats();
    assert_eq!(stats.closed(CloseCause::Reset), 1);
    assert_eq!(
        stats.dropped(DropCause::DestinationClosed),
        FrameCount {
            frames: 2,
            bytes: 15
        }
    );
    assert_eq!(stats.bytes_queued, 0);
    assert!(net.router.wants_read(sender));
}

#[test]
fn reset_of_a_paused_sender_drops_its_unrouted_frames_as_sender_closed() {
    let (mut net, sender, stuck) = sender_paused_with_unrouted_frames();
    assert_eq!(net.reset(sender), [Told::Close(sender)]);
    let stats = net.router.stats();
    assert_eq!(stats.senders_paused, 0);
    assert_eq!(
        stats.dropped(DropCause::SenderClosed),
        FrameCount {
            frames: 2,
            bytes: 5 + 9
        },
        "held and buffered"
    );
    assert_eq!(
        stats.dropped(DropCause::Truncated),
        FrameCount {
            frames: 1,
            bytes: 2
        },
        "partial"
    );
    net.unblock(stuck);
    assert_eq!(net.received(stuck), b"fills it up\0");
}

#[test]
fn oversized_frame_closes_its_sender_and_nothing_of_it_is_delivered() {
    let mut net = Net::new(small_frames());
    let sender = net.connect();
    let receiver = net.connect();
    let read = [
        frame(receiver, b"fine"),
        frame(receiver, &[b'x'; MAX_FRAME + 1]),
    ]
    .concat();
    assert_eq!(net.input(sender, &read), [Told::Close(sender)]);
    assert_eq!(net.take_received(receiver), b"fine\0");
    let stats = net.router.stats();
    assert_eq!(stats.closed(CloseCause::ProtocolViolation), 1);
    assert_eq!(
        stats.dropped(DropCause::Oversized),
        FrameCount {
            frames: 1,
            bytes: MAX_FRAME as u64 + 1
        },
        "the payload bytes read when it was detected"
    );
}

#[test]
fn oversize_is_detected_before_the_terminator_arrives() {
    let mut net = Net::new(small_frames());
    let sender = net.connect();
    let receiver = net.connect();
    let header = receiver.id().to_be_bytes();
    net.input(sender, &header);
    for _ in 0..MAX_FRAME {
        assert_eq!(net.input(sender, b"y"), []);
    }
    assert_eq!(net.input(sender, b"y"), [Told::Close(sender)]);
    assert_eq!(net.received(receiver), b"");
}

#[test]
fn payload_of_exactly_max_frame_bytes_is_delivered() {
    let mut net = Net::new(small_frames());
    let sender = net.connect();
    let receiver = net.connect();
    let largest = [b'z'; MAX_FRAME];
    assert_eq!(net.send(sender, receiver, &largest), []);
    assert_eq!(payloads(&net.take_received(receiver)), [largest]);
}

#[test]
fn a_protocol_violation_leaves_other_connections_unaffected() {
    let mut net = Net::new(small_frames());
    let violator = net.connect();
    let a = net.connect();
    let b = net.connect();
    net.block(violator);
    net.send(a, violator, b"to violator");
    net.send(violator, b, &[b'x'; MAX_FRAME + 1]);
    assert!(net.is_closed(violator));
    assert_eq!(
        net.router
            .stats()
            .dropped(DropCause::DestinationClosed)
            .frames,
        1,
        "its queue is freed and counted"
    );
    assert_eq!(net.send(a, b, b"a to b"), []);
    assert_eq!(net.send(b, a, b"b to a"), []);
    assert_eq!(net.take_received(b), b"a to b\0");
    assert_eq!(net.take_received(a), b"b to a\0");
}

#[test]
fn connection_limit_refuses_without_an_id_and_counts() {
    let mut net = Net::new(Config {
        max_connections: 2,
        ..Config::default()
    });
    let first = net.connect();
    let second = net.connect();
    assert_eq!(
        net.router.handle_accept(net.now),
        Err(AcceptError::ConnectionLimit(2))
    );
    assert_eq!(net.drive(), [], "nothing to write, nothing to close");
    assert_eq!(net.router.stats().connections_refused, 1);
    assert_eq!(net.router.stats().connections_open, 2);

    // A connection flushing after EOF still counts; a closed one does not.
    net.block(second);
    net.send(first, second, b"pending");
    net.eof(second);
    assert!(net.router.handle_accept(net.now).is_err());
    net.unblock(second);
    assert!(net.is_closed(second));
    let third = net.connect();
    assert_eq!(third.id(), 2);
    assert_eq!(net.router.stats().connections_refused, 2);
}

#[test]
fn shutdown_refuses_accepts_stops_reading_flushes_closes_and_drains() {
    let mut net = Net::new(Config::default());
    let idle = net.connect();
    let sender = net.connect();
    let slow = net.connect();
    net.block(slow);
    net.send(sender, slow, b"flushed on shutdown");

    net.router.shutdown(net.now);
    assert_eq!(
        sorted(net.drive()),
        [Told::StopListening, Told::Close(idle), Told::Close(sender)],
        "the listener closed, and with nothing queued, the connections too"
    );
    assert!(!net.is_listening());
    assert!(!net.router.wants_accept());
    assert!(net.router.is_shutting_down());
    assert!(!net.router.wants_read(slow));
    assert_eq!(
        net.router.handle_accept(net.now),
        Err(AcceptError::ShuttingDown)
    );
    assert_eq!(net.router.stats().connections_refused, 1);
    assert_eq!(net.send(slow, slow, b"ignored"), []);

    assert!(!net.router.is_drained());
    assert_eq!(net.unblock(slow), [Told::Close(slow)]);
    assert_eq!(net.received(slow), b"flushed on shutdown\0");
    assert!(net.router.is_drained());
    assert_eq!(net.router.stats().closed(CloseCause::Shutdown), 3);
    assert_eq!(net.router.poll_timeout(), None);
    net.router.shutdown(net.now);
    assert_eq!(net.drive(), [], "a second shutdown does nothing");
}

#[test]
fn shutdown_drops_and_counts_frames_not_yet_routed() {
    let (mut net, sender, stuck) = sender_paused_with_unrouted_frames();
    net.router.shutdown(net.now);
    assert_eq!(net.drive(), [Told::StopListening, Told::Close(sender)]);
    let stats = net.router.stats();
    assert_eq!(stats.senders_paused, 0);
    assert_eq!(
        stats.dropped(DropCause::Shutdown),
        FrameCount {
            frames: 2,
            bytes: 5 + 9
        }
    );
    assert_eq!(
        stats.dropped(DropCause::Truncated),
        FrameCount {
            frames: 1,
            bytes: 2
        }
    );
    assert_eq!(net.unblock(stuck), [Told::Close(stuck)]);
    assert!(net.router.is_drained());
    assert_eq!(
        net.received(stuck),
        b"fills it up\0",
        "queued frames are flushed"
    );
}

#[test]
fn drain_timeout_closes_connections_that_do_not_flush() {
    let mut net = Net::new(Config {
        drain_timeout: secs(5),
        ..Config::default()
    });
    let sender = net.connect();
    let stuck = net.connect();
    net.block(stuck);
    net.send(sender, stuck, b"never read");
    net.router.shutdown(net.now);
    assert_eq!(net.drive(), [Told::StopListening, Told::Close(sender)]);
    assert_eq!(net.router.poll_timeout(), Some(net.now + secs(5)));

    assert_eq!(net.tick(secs(5) - Duration::from_nanos(1)), []);
    assert_eq!(net.tick(Duration::from_nanos(1)), [Told::Close(stuck)]);
    assert!(net.router.is_drained());
    let stats = net.router.stats();
    assert_eq!(stats.closed(CloseCause::Shutdown), 2);
    assert_eq!(
        stats.dropped(DropCause::Shutdown),
        FrameCount {
            frames: 1,
            bytes: 11
        }
    );
    assert_eq!(stats.bytes_queued, 0);
    assert_eq!(net.router.poll_timeout(), None);
}

#[test]
fn shutdown_with_no_connection_drains_at_once() {
    let mut net = Net::new(Config::default());
    let gone = net.connect();
    net.reset(gone);
    net.router.shutdown(net.now);
    assert_eq!(net.drive(), [Told::StopListening]);
    assert!(net.router.is_drained());
    assert_eq!(net.router.poll_timeout(), None);
}

#[test]
fn calls_for_a_closed_handle_are_ignored() {
    let mut net = Net::new(Config::default());
    let gone = net.connect();
    let other = net.connect();
    net.reset(gone);
    let stats = net.router.stats().clone();
    net.router
        .handle_input(gone, &frame(other, b"ghost"), net.now);
    net.router.handle_eof(gone, net.now);
    net.router.handle_reset(gone, net.now);
    net.router.handle_writable(gone);
    net.router
        .handle_input(ConnHandle(77), b"never accepted", net.now);
    assert_eq!(net.drive(), []);
    assert_eq!(net.router.stats(), &stats);
    assert!(!net.router.wants_read(gone));
    assert_eq!(net.received(other), b"");
}
