//! Timeouts: slow consumers and idle connections are closed exactly when
//! their deadline passes, and `poll_timeout` names that instant exactly.

use std::time::Duration;

use router_core::{CloseCause, Config, DropCause, FrameCount, OverflowPolicy};

use crate::support::{Net, Told, frame, secs};

const STALL: Duration = Duration::from_secs(30);
const IDLE: Duration = Duration::from_secs(10);
const NANO: Duration = Duration::from_nanos(1);

fn with_idle_timeout() -> Config {
    Config {
        idle_timeout: Some(IDLE),
        ..Config::default()
    }
}

#[test]
fn write_stall_closes_a_destination_that_accepts_nothing() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let stuck = net.connect();
    net.block(stuck);
    net.advance(secs(1));
    let queued_at = net.now;
    net.send(sender, stuck, b"one");
    net.send(sender, stuck, b"two");
    assert_eq!(net.router.poll_timeout(), Some(queued_at + STALL));

    assert_eq!(net.tick(STALL - NANO), [], "not a nanosecond early");
    assert_eq!(net.tick(NANO), [Told::Close(stuck)]);
    let stats = net.router.stats();
    assert_eq!(stats.closed(CloseCause::WriteStall), 1);
    assert_eq!(
        stats.dropped(DropCause::DestinationClosed),
        FrameCount {
            frames: 2,
            bytes: 8
        }
    );
    assert_eq!(stats.bytes_queued, 0, "its queue is freed");
    assert!(net.router.wants_read(sender));
    assert_eq!(net.router.poll_timeout(), None);
}

#[test]
fn write_stall_releases_senders_held_behind_the_closed_destination() {
    let mut net = Net::new(Config {
        outbound_high_water: 10,
        outbound_low_water: 5,
        overflow_policy: OverflowPolicy::Pause,
        ..Config::default()
    });
    let sender = net.connect();
    let stuck = net.connect();
    let other = net.connect();
    net.block(stuck);
    net.send(sender, stuck, b"fills it up");
    let read = [frame(stuck, b"held"), frame(other, b"behind it")].concat();
    assert_eq!(net.input(sender, &read), []);
    assert!(!net.router.wants_read(sender), "paused");

    let events = net.tick(STALL);
    assert_eq!(events, [Told::Close(stuck), Told::ResumeReading(sender)]);
    let stats = net.router.stats();
    assert_eq!(stats.senders_paused, 0);
    assert_eq!(
        stats.dropped(DropCause::DestinationClosed),
        FrameCount {
            frames: 2,
            bytes: 12 + 5
        },
        "the queued frame and the held one"
    );
    assert_eq!(net.take_received(other), b"behind it\0");
    assert!(net.router.wants_read(sender));
}

#[test]
fn a_partial_write_restarts_the_stall_clock() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let slow = net.connect();
    net.block(slow);
    let queued_at = net.now;
    net.send(sender, slow, b"slowly");

    net.advance(secs(20));
    net.allow(slow, 1);
    assert_eq!(net.received(slow), b"s");
    assert_eq!(
        net.router.poll_timeout(),
        Some(queued_at + secs(20) + STALL)
    );
    assert_eq!(
        net.tick(secs(10)),
        [],
        "past the first deadline, still open"
    );
    assert_eq!(
        net.router.poll_timeout(),
        Some(queued_at + secs(20) + STALL)
    );
    assert_eq!(net.tick(secs(20)), [Told::Close(slow)]);
    assert_eq!(net.router.stats().closed(CloseCause::WriteStall), 1);
}

#[test]
fn a_consumer_that_reads_slowly_but_steadily_is_never_closed() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let slow = net.connect();
    net.block(slow);
    let message = [b'x'; 100];
    net.send(sender, slow, &message);
    for _ in 0..100 {
        assert_eq!(net.tick(STALL - NANO), []);
        net.allow(slow, 1);
    }
    assert_eq!(net.received(slow), &message[..]);
    assert!(!net.is_closed(slow));
}

#[test]
fn stall_clock_starts_when_bytes_are_queued_not_at_accept() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let stuck = net.connect();
    net.block(stuck);
    assert_eq!(net.router.poll_timeout(), None, "nothing queued");
    net.advance(secs(100));
    net.send(sender, stuck, b"late");
    assert_eq!(net.router.poll_timeout(), Some(net.now + STALL));
}

#[test]
fn a_client_that_never_reads_its_id_is_closed_as_stalled() {
    let mut net = Net::new(Config::default());
    let accepted_at = net.now;
    let stuck = net.accept_blocked();
    assert_eq!(net.router.poll_timeout(), Some(accepted_at + STALL));
    assert_eq!(net.tick(STALL), [Told::Close(stuck)]);
    let stats = net.router.stats();
    assert_eq!(stats.closed(CloseCause::WriteStall), 1);
    assert_eq!(
        stats.dropped_total(),
        FrameCount::default(),
        "an ID is not a frame"
    );
    assert_eq!(stats.bytes_queued, 0);
}

#[test]
fn timeouts_are_off_for_connections_that_wait_quietly_by_default() {
    let mut net = Net::new(Config::default());
    let a = net.connect();
    let b = net.connect();
    net.send(a, b, b"then silence");
    assert_eq!(net.router.poll_timeout(), None);
    assert_eq!(net.tick(Duration::from_secs(365 * 24 * 3600)), []);
    assert!(net.router.wants_read(a) && net.router.wants_read(b));
}

#[test]
fn idle_timeout_closes_a_silent_connection() {
    let mut net = Net::new(with_idle_timeout());
    let accepted_at = net.now;
    let silent = net.connect();
    assert_eq!(net.router.poll_timeout(), Some(accepted_at + IDLE));
    assert_eq!(net.tick(IDLE - NANO), []);
    assert_eq!(net.tick(NANO), [Told::Close(silent)]);
    assert_eq!(net.router.stats().closed(CloseCause::Idle), 1);
    assert_eq!(net.router.poll_timeout(), None);
}

#[test]
fn idle_timeout_spares_connections_with_traffic() {
    let mut net = Net::new(with_idle_timeout());
    let talker = net.connect();
    let listener = net.connect();
    let silent = net.connect();
    let mut closed = Vec::new();
    for _ in 0..10 {
        closed.extend(net.tick(secs(6)));
        net.send(talker, listener, b"still here");
    }
    assert_eq!(closed, [Told::Close(silent)]);
    let last_frame_at = net.now;
    assert_eq!(net.router.poll_timeout(), Some(last_frame_at + IDLE));
    // Both ends of the traffic go idle together once it stops.
    assert_eq!(net.tick(IDLE - NANO), []);
    assert_eq!(net.tick(NANO), [Told::Close(talker), Told::Close(listener)]);
    assert_eq!(net.now, last_frame_at + IDLE);
    assert_eq!(net.router.stats().closed(CloseCause::Idle), 3);
}

#[test]
fn a_connection_with_bytes_queued_or_a_held_frame_is_not_idle() {
    let mut net = Net::new(Config {
        outbound_high_water: 10,
        outbound_low_water: 5,
        ..with_idle_timeout()
    });
    let sender = net.connect();
    let stuck = net.connect();
    net.block(stuck);
    net.send(sender, stuck, b"fills it up");
    assert_eq!(net.send(sender, stuck, b"held"), []);
    assert!(!net.router.wants_read(sender), "paused");
    // Neither the paused sender nor the destination holding bytes idles out;
    // the destination stalls instead.
    assert_eq!(net.tick(STALL - NANO), []);
    assert_eq!(
        net.tick(NANO),
        [Told::Close(stuck), Told::ResumeReading(sender)]
    );
    assert_eq!(net.router.stats().closed(CloseCause::Idle), 0);
    // Resumed, the sender is idle from now on.
    assert_eq!(net.router.poll_timeout(), Some(net.now + IDLE));
}

#[test]
fn spurious_and_repeated_timeouts_change_nothing() {
    let mut net = Net::new(with_idle_timeout());
    let sender = net.connect();
    let stuck = net.connect();
    net.block(stuck);
    net.send(sender, stuck, b"pending");
    let deadline = net.router.poll_timeout();
    let stats = net.router.stats().clone();
    for _ in 0..3 {
        assert_eq!(net.tick(Duration::ZERO), []);
        assert_eq!(net.tick(IDLE / 4), []);
    }
    assert_eq!(net.router.stats(), &stats);
    assert_eq!(net.router.poll_timeout(), deadline);
    assert!(net.router.wants_read(sender));
}

#[test]
fn a_late_timer_closes_everything_due_once() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let stuck: Vec<_> = (0..3).map(|_| net.connect()).collect();
    for (i, &conn) in stuck.iter().enumerate() {
        net.block(conn);
        net.advance(secs(i as u64));
        net.send(sender, conn, b"x");
    }
    let closes: Vec<_> = stuck.iter().map(|&c| Told::Close(c)).collect();
    assert_eq!(net.tick(STALL * 10), closes, "in deadline order");
    assert_eq!(net.tick(STALL * 10), []);
}
