//! IDs: sent first, handed out in sequence, never shared by two live
//! connections, and carrying the owner's shard and node bits.

use router_core::{Config, ConnHandle, DropCause, FrameCount, IdLayout, Owner};

use crate::support::{Net, frame};

/// A layout leaving 16 bits of sequence: 65 536 IDs to cycle through.
fn small_id_space(node: u32, shard: u32) -> Config {
    Config {
        id_layout: IdLayout::new(8, node, 8, shard),
        max_connections: 1_000,
        ..Config::default()
    }
}

#[test]
fn id_is_sent_as_four_big_endian_bytes_and_nothing_else() {
    let mut net = Net::new(Config::default());
    let first = net.accept().unwrap();
    let second = net.accept().unwrap();
    assert_eq!(net.received(first), [0, 0, 0, 0]);
    assert_eq!(net.received(second), [0, 0, 0, 1]);
    assert_eq!(second.id(), 1);
}

#[test]
fn id_goes_out_before_any_frame_queued_while_it_was_unsent() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let receiver = net.accept_blocked();
    net.send(sender, receiver, b"early");
    assert_eq!(net.received(receiver), b"", "the socket took nothing yet");
    net.unblock(receiver);
    let mut expected = receiver.id().to_be_bytes().to_vec();
    expected.extend_from_slice(b"early\0");
    assert_eq!(net.received(receiver), expected);
}

#[test]
fn id_survives_being_written_one_byte_at_a_time() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let receiver = net.accept_blocked();
    net.limit_writes(receiver, 1);
    net.send(sender, receiver, b"x");
    for written in 1..=4 {
        net.allow(receiver, 1);
        assert_eq!(
            net.received(receiver),
            &receiver.id().to_be_bytes()[..written]
        );
    }
    net.unblock(receiver);
    assert_eq!(net.received(receiver)[4..], *b"x\0");
}

#[test]
fn ids_are_sequential_and_not_reused_right_after_a_close() {
    let mut net = Net::new(Config::default());
    let first = net.connect();
    net.reset(first);
    let ids: Vec<u32> = (0..5).map(|_| net.connect().id()).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
}

#[test]
fn after_a_wrap_the_sequence_skips_ids_still_live() {
    let mut net = Net::new(small_id_space(0, 0));
    let space = 1u32 << 16;
    let first_four: Vec<ConnHandle> = (0..4).map(|_| net.connect()).collect();
    assert_eq!(first_four, [0, 1, 2, 3].map(ConnHandle));
    // 0 and 3 stay live; 1 and 2 close.
    net.reset(ConnHandle(1));
    net.reset(ConnHandle(2));
    // Cycle through the rest of the space with short-lived connections.
    for expected in 4..space {
        let conn = net.connect();
        assert_eq!(conn.id(), expected);
        net.reset(conn);
    }
    // The sequence wraps: 0 and 3 are live, 1 and 2 are free again.
    let after_wrap: Vec<u32> = (0..3).map(|_| net.connect().id()).collect();
    assert_eq!(after_wrap, [1, 2, 4]);
    assert_eq!(
        net.router.stats().connections_accepted,
        u64::from(space) + 3
    );
}

#[test]
fn ids_carry_this_routers_node_and_shard_bits_across_a_wrap() {
    let mut net = Net::new(small_id_space(0xAB, 0xCD));
    let first = net.connect();
    assert_eq!(first.id(), 0xABCD_0000);
    net.reset(first);
    for expected in 1..1u32 << 16 {
        let conn = net.connect();
        assert_eq!(conn.id(), 0xABCD_0000 | expected);
        net.reset(conn);
    }
    assert_eq!(net.connect().id(), 0xABCD_0000, "wrapped within the prefix");
    let layout = net.router.config().id_layout;
    assert_eq!(layout.owner_of(0xABCD_1234), Owner::Local);
    assert_eq!(
        layout.owner_of(0xAB01_0000),
        Owner::Remote {
            node: 0xAB,
            shard: 0x01
        }
    );
}

#[test]
fn frame_for_another_shard_or_node_is_dropped_as_no_route() {
    let mut net = Net::new(small_id_space(1, 2));
    let sender = net.connect();
    let receiver = net.connect();
    assert_eq!(receiver.id(), 0x0102_0001);
    let other_shard = ConnHandle(0x0103_0001);
    let other_node = ConnHandle(0x0202_0001);
    let events = net.input(
        sender,
        &[frame(other_shard, b"a"), frame(other_node, b"bc")].concat(),
    );
    assert_eq!(events, []);
    assert_eq!(
        net.router.stats().dropped(DropCause::NoRoute),
        FrameCount {
            frames: 2,
            bytes: 5
        }
    );
    // An unassigned local ID is a different cause.
    net.send(sender, ConnHandle(0x0102_0009), b"d");
    assert_eq!(
        net.router
            .stats()
            .dropped(DropCause::UnknownDestination)
            .frames,
        1
    );
    // The sender is unaffected and local routing works.
    assert!(net.router.wants_read(sender));
    net.send(sender, receiver, b"local");
    assert_eq!(net.take_received(receiver), b"local\0");
    assert_eq!(net.router.stats().dropped(DropCause::NoRoute).frames, 2);
}
