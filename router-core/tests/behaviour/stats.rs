//! Counters move exactly as the router works, and a configuration that could
//! not bound memory is refused with an error naming the field.

use std::time::Duration;

use router_core::{
    CloseCause, Config, ConfigError, ConnHandle, DropCause, FrameCount, IdLayout, IdLayoutError,
    OverflowPolicy, Router, Stats,
};

use crate::support::{Net, frame, secs};

#[test]
fn a_new_router_counts_nothing() {
    let router = Router::new(Config::default()).unwrap();
    assert_eq!(router.stats(), &Stats::default());
    assert_eq!(router.stats().dropped_total(), FrameCount::default());
    assert_eq!(router.stats().closed_total(), 0);
}

#[test]
fn traffic_counters_follow_frames_from_read_to_written() {
    let mut net = Net::new(Config::default());
    let a = net.connect();
    let b = net.connect();
    let stats = net.router.stats();
    assert_eq!((stats.connections_accepted, stats.connections_open), (2, 2));
    assert_eq!((stats.bytes_written, stats.bytes_queued), (8, 0), "two IDs");

    let read = [
        frame(b, b"hello"),
        frame(b, b""),
        frame(ConnHandle(42), b"nobody"),
    ]
    .concat();
    net.input(a, &read);
    let stats = net.router.stats();
    assert_eq!(
        stats.received,
        FrameCount {
            frames: 3,
            bytes: 6 + 1 + 7
        }
    );
    assert_eq!(
        stats.routed,
        FrameCount {
            frames: 2,
            bytes: 7
        }
    );
    assert_eq!(
        stats.dropped(DropCause::UnknownDestination),
        FrameCount {
            frames: 1,
            bytes: 7
        }
    );
    assert_eq!(
        stats.dropped_total(),
        FrameCount {
            frames: 1,
            bytes: 7
        }
    );
    assert_eq!(stats.bytes_written, 8 + 7);
    assert_eq!(stats.bytes_queued, 0);
}

#[test]
fn bytes_queued_rises_with_unwritten_bytes_and_returns_to_zero() {
    let mut net = Net::new(Config::default());
    let a = net.connect();
    let b = net.accept_blocked();
    assert_eq!(net.router.stats().bytes_queued, 4, "b's unsent ID");
    net.send(a, b, b"abc");
    assert_eq!(net.router.stats().bytes_queued, 4 + 4);
    net.allow(b, 5);
    assert_eq!(net.router.stats().bytes_queued, 3);
    assert_eq!(net.router.stats().bytes_written, 4 + 5);
    net.unblock(b);
    assert_eq!(net.router.stats().bytes_queued, 0);
    assert_eq!(net.router.stats().bytes_written, 4 + 8);
}

#[test]
fn senders_paused_counts_senders_paused_now() {
    let mut net = Net::new(Config {
        outbound_high_water: 1,
        outbound_low_water: 1,
        ..Config::default()
    });
    let stuck = net.connect();
    net.block(stuck);
    let senders: Vec<_> = (0..3).map(|_| net.connect()).collect();
    net.send(senders[0], stuck, b"fills it");
    for (paused, &sender) in senders.iter().enumerate() {
        assert_eq!(net.router.stats().senders_paused, paused as u64);
        net.send(sender, stuck, b"held");
    }
    assert_eq!(net.router.stats().senders_paused, 3);
    net.reset(senders[1]);
    assert_eq!(net.router.stats().senders_paused, 2);
    net.unblock(stuck);
    assert_eq!(net.router.stats().senders_paused, 0);
}

#[test]
fn drops_and_closes_are_counted_by_cause() {
    let mut net = Net::new(Config {
        max_frame_bytes: 8,
        outbound_high_water: 4,
        outbound_low_water: 2,
        overflow_policy: OverflowPolicy::Drop,
        idle_timeout: Some(secs(60)),
        ..Config::default()
    });
    let sender = net.connect();
    let full = net.connect();
    let reset = net.connect();
    let leaving = net.connect();
    let violator = net.connect();
    net.block(full);
    net.send(sender, full, b"full");
    net.send(sender, full, b"dropped");
    net.send(sender, ConnHandle(1_000), b"unknown");
    net.input(leaving, &frame(sender, b"cut")[..5]);
    net.eof(leaving);
    net.reset(reset);
    net.send(violator, sender, b"far too long");
    net.tick(secs(30)); // `full` stalls.
    net.tick(secs(60)); // `sender` idles out.

    let stats = net.router.stats();
    let dropped = DropCause::ALL.map(|cause| stats.dropped(cause).frames);
    // UnknownDestination, NoRoute, DestinationFull, DestinationClosed,
    // Oversized, SenderClosed, Truncated, Shutdown, MemoryBudget, InTransit,
    // PeerCongested.
    assert_eq!(dropped, [1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0]);
    let closed = CloseCause::ALL.map(|cause| stats.closed(cause));
    // Eof, Reset, WriteStall, Idle, ProtocolViolation, Shutdown, MemoryBudget.
    assert_eq!(closed, [1, 1, 1, 1, 1, 0, 0]);
    assert_eq!(stats.closed_total(), 5);
    assert_eq!(stats.connections_open, 0);
    assert_eq!(stats.dropped_total().frames, 5);
    assert_eq!(stats.bytes_queued, 0);
}

#[test]
fn cause_names_are_stable_snake_case() {
    let drops = DropCause::ALL.map(DropCause::name);
    assert_eq!(
        drops,
        [
            "unknown_destination",
            "no_route",
            "destination_full",
            "destination_closed",
            "oversized",
            "sender_closed",
            "truncated",
            "shutdown",
            "memory_budget",
            "in_transit",
            "peer_congested"
        ]
    );
    let closes = CloseCause::ALL.map(CloseCause::name);
    assert_eq!(
        closes,
        [
            "eof",
            "reset",
            "write_stall",
            "idle",
            "protocol_violation",
            "shutdown",
            "memory_budget"
        ]
    );
}

fn validate(change: impl FnOnce(&mut Config)) -> Result<(), ConfigError> {
    let mut config = Config::default();
    change(&mut config);
    let verdict = config.validate();
    assert_eq!(
        Router::new(config).err(),
        verdict.clone().err(),
        "Router::new agrees"
    );
    verdict
}

#[test]
fn config_rejects_zero_sizes_and_durations_naming_the_field() {
    let zero = |field| Err(ConfigError::Zero { field });
    assert_eq!(validate(|c| c.max_frame_bytes = 0), zero("max_frame_bytes"));
    assert_eq!(
        validate(|c| c.outbound_high_water = 0),
        zero("outbound_high_water")
    );
    assert_eq!(
        validate(|c| c.outbound_low_water = 0),
        zero("outbound_low_water")
    );
    assert_eq!(validate(|c| c.max_connections = 0), zero("max_connections"));
    let zero_duration = |field| Err(ConfigError::ZeroDuration { field });
    assert_eq!(
        validate(|c| c.write_stall_timeout = Duration::ZERO),
        zero_duration("write_stall_timeout")
    );
    assert_eq!(
        validate(|c| c.idle_timeout = Some(Duration::ZERO)),
        zero_duration("idle_timeout")
    );
    assert_eq!(
        validate(|c| c.drain_timeout = Duration::ZERO),
        zero_duration("drain_timeout")
    );
    let message = validate(|c| c.drain_timeout = Duration::ZERO)
        .unwrap_err()
        .to_string();
    assert!(message.contains("drain_timeout"), "{message}");
}

#[test]
fn config_rejects_low_water_above_high_water_but_not_equal() {
    assert_eq!(
        validate(|c| {
            c.outbound_high_water = 100;
            c.outbound_low_water = 101;
        }),
        Err(ConfigError::LowWaterAboveHighWater {
            low: 101,
            high: 100
        })
    );
    assert_eq!(
        validate(|c| {
            c.outbound_high_water = 100;
            c.outbound_low_water = 100;
        }),
        Ok(())
    );
}

#[test]
fn config_rejects_a_frame_limit_beyond_u32() {
    let too_large = u32::MAX as usize + 1;
    assert_eq!(
        validate(|c| c.max_frame_bytes = too_large),
        Err(ConfigError::FrameLimitTooLarge(too_large))
    );
    let largest = |c: &mut Config| {
        c.max_frame_bytes = u32::MAX as usize;
        c.max_buffered_bytes = u32::MAX as usize;
    };
    assert_eq!(validate(largest), Ok(()));
}

#[test]
fn config_rejects_more_connections_than_ids_or_a_bad_layout() {
    let sixteen_bits = IdLayout::new(8, 0, 8, 0);
    assert_eq!(
        validate(|c| {
            c.id_layout = sixteen_bits;
            c.max_connections = 65_537;
        }),
        Err(ConfigError::MoreConnectionsThanIds {
            max: 65_537,
            space: 65_536
        })
    );
    assert_eq!(
        validate(|c| {
            c.id_layout = sixteen_bits;
            c.max_connections = 65_536;
        }),
        Ok(())
    );
    assert_eq!(
        validate(|c| c.id_layout = IdLayout::new(9, 0, 8, 0)),
        Err(ConfigError::IdLayout(IdLayoutError::TooManyBits(17)))
    );
    assert_eq!(
        validate(|c| c.id_layout = IdLayout::new(4, 0, 2, 4)),
        Err(ConfigError::IdLayout(IdLayoutError::IndexTooLarge {
            what: "shard",
            index: 4,
            bits: 2
        }))
    );
}
