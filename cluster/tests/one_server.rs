//! Two router nodes joined through one real NATS server: the reference
//! exchange, order and wholeness, backpressure, and bad input on a node's
//! subject, with sender and destination on different nodes.

mod support;

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use router_cluster::{ClusterOptions, ClusterStats};
use router_core::{Config, ConnHandle, DropCause, OverflowPolicy};

use support::streams::stream_for;
use support::{NatsServer, Node, World, node::test_config};

const WAIT: Duration = Duration::from_secs(10);

fn two_nodes(server: &NatsServer) -> World {
    two_nodes_with(server, test_config())
}

fn two_nodes_with(server: &NatsServer, config: Config) -> World {
    let mut world = World::new(vec![
        Node::start(&server.url(), 0, &config, 1),
        Node::start(&server.url(), 1, &config, 1),
    ]);
    world.wait_until_joined();
    world
}

#[test]
fn the_reference_exchange_works_across_nodes() {
    let server = NatsServer::start();
    let mut world = two_nodes(&server);
    world.reference_exchange(0, 1);
}

#[test]
fn frames_between_nodes_arrive_whole_and_in_order_both_ways() {
    let server = NatsServer::start();
    let mut world = two_nodes(&server);
    let streams = world.start_streams(&[(0, 1), (0, 1), (1, 0), (0, 0)], 400, 3000);
    world.finish_streams(&streams, WAIT * 3);
    for i in 0..2 {
        let stats = world.node(i).router.stats().clone();
        assert_eq!(stats.dropped_total().frames, 0, "node {i}: {stats:?}");
        assert_eq!(stats.peer_batches_rejected, 0, "node {i}");
    }
}

#[test]
fn a_slow_reader_on_one_node_pauses_its_sender_on_the_other_with_bounded_memory() {
    let server = NatsServer::start();
    let mut world = two_nodes(&server);
    let config = test_config();
    let sender = world.connect(0);
    let reader = world.connect(1);
    let bystander_from = world.connect(0);
    let bystander_to = world.connect(1);
    world.node(1).blocked.insert(reader);
    let (stream, expected) = stream_for(reader.id(), "flood", 4000, 4000);
    assert!(
        stream.len() > 6 << 20,
        "far more than the window, the queue and the NATS server's slack"
    );
    let nats_before = server.resident_bytes();
    world.write(0, sender, &stream);
    world.run_until("the sender to pause", WAIT, |w| {
        let info = w.node(0).router.connection_info(sender).expect("open");
        info.paused
    });
    // Paused for good: what waits is bounded by one window in flight and
    // the destination's queue (its high-water mark, plus one window per
    // peer), however long the reader does not read.
    world.run_for(Duration::from_millis(300));
    assert!(
        world
            .node(0)
            .router
            .connection_info(sender)
            .expect("open")
            .paused
    );
    assert!(
        world.unwritten(0, sender) > 0,
        "the rest waits in the client"
    );
    assert_queue_bounded(&mut world, reader, &config);
    let in_flight = world.node(0).router.stats().peer_bytes_in_flight;
    assert!(in_flight <= (config.peer_window + config.max_frame_bytes) as u64);
    // Nor does the flood wait in NATS: the server grew by far less than
    // the flood (its own buffers are a few MiB at most).
    let nats_growth = server.resident_bytes().saturating_sub(nats_before);
    assert!(
        nats_growth < 4 << 20,
        "the NATS server grew by {nats_growth} bytes during the pause"
    );
    // Another pair crossing the same nodes is not held up.
    world.send(0, bystander_from, bystander_to.id(), b"not waiting");
    world.run_until("the bystander's frame", WAIT, |w| {
        !w.received(1, bystander_to).is_empty()
    });
    assert_eq!(world.received(1, bystander_to), b"not waiting\0");
    // The reader reads again: everything arrives, whole and in order.
    world.unblock(1, reader);
    world.run_until("the whole flood", WAIT * 3, |w| {
        w.received(1, reader).len() >= expected.len()
    });
    assert_eq!(world.received(1, reader), &expected[..]);
    assert_eq!(world.node(0).router.stats().dropped_total().frames, 0);
    assert!(world.node(0).router.stats().sender_pauses > 0);
}

#[test]
fn under_drop_a_slow_reader_on_one_node_costs_frames_not_memory_or_a_pause() {
    let server = NatsServer::start();
    let config = Config {
        overflow_policy: OverflowPolicy::Drop,
        ..test_config()
    };
    let mut world = two_nodes_with(&server, config.clone());
    let sender = world.connect(0);
    let reader = world.connect(1);
    world.node(1).blocked.insert(reader);
    let count = 2000;
    let (stream, expected) = stream_for(reader.id(), "flood", count, 2000);
    world.write(0, sender, &stream);
    // The sender is never paused: everything it wrote is read, and what
    // found the reader (or the window to its node) full is dropped.
    world.run_until("the whole flood read", WAIT, |w| {
        w.unwritten(0, sender) == 0
    });
    assert_queue_bounded(&mut world, reader, &config);
    world.unblock(1, reader);
    world.run_until("every frame delivered or counted", WAIT, |w| {
        frames_in(w.received(1, reader)) as u64 + dropped_full(w) >= count as u64
    });
    // What arrived is whole frames of the stream, in order; every other
    // frame is counted, on one node or the other, as full.
    let full = dropped_full(&mut world);
    assert!(full > 0, "nothing was dropped: the reader was never full");
    let got: Vec<Vec<u8>> = world
        .received(1, reader)
        .split_inclusive(|&b| b == 0)
        .map(<[u8]>::to_vec)
        .collect();
    assert_eq!(
        got.len() as u64 + full,
        count as u64,
        "frames delivered + dropped full"
    );
    let mut sent = expected.split_inclusive(|&b| b == 0);
    for frame in &got {
        assert!(
            sent.any(|s| s == frame.as_slice()),
            "a frame arrived out of order or not whole"
        );
    }
    assert_eq!(world.node(0).router.stats().sender_pauses, 0);
}

/// What waits for `reader` on node 1 is bounded by its high-water mark,
/// plus one window from its peer and one frame over, however long it does
/// not read.
fn assert_queue_bounded(world: &mut World, reader: ConnHandle, config: &Config) {
    let queued = world
        .node(1)
        .router
        .connection_info(reader)
        .expect("open")
        .queued_bytes;
    let bound = config.outbound_high_water + config.peer_window + config.max_frame_bytes;
    assert!(
        queued <= bound,
        "{queued} queued to the reader, bound {bound}"
    );
}

/// Frames in `bytes`: its terminators.
fn frames_in(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == 0).count()
}

/// Frames both nodes dropped because a destination, or the window to its
/// node, was full.
fn dropped_full(world: &mut World) -> u64 {
    let mut frames = 0;
    for i in 0..2 {
        let stats = world.node(i).router.stats();
        frames += stats.dropped(DropCause::DestinationFull).frames
            + stats.dropped(DropCause::PeerCongested).frames;
    }
    frames
}

/// Publishes `messages` on `subject` through a bare NATS connection, as
/// anyone who may publish to the server can.
fn publish_raw(server: &NatsServer, subject: &str, messages: &[Vec<u8>]) {
    use std::io::{BufRead, BufReader, Write};
    let stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).expect("NATS");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("INFO");
    assert!(line.starts_with("INFO"), "{line}");
    let mut out = stream;
    out.write_all(b"CONNECT {\"verbose\":false}\r\n")
        .expect("CONNECT");
    for message in messages {
        write!(out, "PUB {subject} {}\r\n", message.len()).expect("PUB");
        out.write_all(message).expect("payload");
        out.write_all(b"\r\n").expect("end");
    }
    out.write_all(b"PING\r\n").expect("PING");
    loop {
        line.clear();
        reader.read_line(&mut line).expect("PONG");
        if line.starts_with("PONG") {
            return;
        }
        assert!(!line.starts_with("-ERR"), "{line}");
    }
}

#[test]
fn garbage_on_a_node_subject_is_dropped_and_counted_and_the_node_carries_on() {
    use router_core::peer::wire::{HEADER_LEN, MAGIC};
    let server = NatsServer::start();
    let mut world = two_nodes(&server);
    let mut forged = vec![0u8; HEADER_LEN + 3];
    forged[..4].copy_from_slice(&MAGIC);
    forged[5] = support::node::NODE_BITS;
    forged[8..12].copy_from_slice(&0u32.to_be_bytes()); // "from node 0"
    forged[16..20].copy_from_slice(&1u32.to_be_bytes()); // to node 1, shard 0
    forged[HEADER_LEN] = 0x7F; // no such record
    let not_a_batch = b"hello, I am not a batch".to_vec();
    let mut other_shard = forged.clone();
    other_shard[20..24].copy_from_slice(&5u32.to_be_bytes());
    publish_raw(
        &server,
        "router.1",
        &[not_a_batch, forged, other_shard, Vec::new()],
    );
    world.run_until("the garbage to be counted", WAIT, |w| {
        let node = w.node(1);
        let unroutable = node
            .bridge
            .stats()
            .unroutable
            .load(std::sync::atomic::Ordering::Relaxed);
        unroutable == 3 && node.router.stats().peer_batches_rejected == 1
    });
    // Both nodes still work together.
    let one = world.connect(0);
    let two = world.connect(1);
    world.send(0, one, two.id(), b"still here");
    world.run_until("a frame after the garbage", WAIT, |w| {
        !w.received(1, two).is_empty()
    });
    assert_eq!(world.received(1, two), b"still here\0");
}

#[test]
fn batches_never_exceed_the_server_max_payload_and_the_largest_frame_crosses() {
    let max_payload = 8 * 1024;
    let server = NatsServer::with_max_payload(max_payload);
    let largest = router_core::largest_frame_in_batch(max_payload);
    let too_large = router_core::Config {
        max_frame_bytes: largest + 1,
        max_batch_bytes: max_payload,
        ..test_config()
    };
    assert!(matches!(
        too_large.validate(),
        Err(router_core::ConfigError::FrameAboveBatch { .. })
    ));
    let config = router_core::Config {
        max_frame_bytes: largest,
        ..test_config()
    };
    let mut world = World::new(vec![
        Node::start(&server.url(), 0, &config, 1),
        Node::start(&server.url(), 1, &config, 1),
    ]);
    assert_eq!(world.node(0).bridge.max_payload(), max_payload);
    world.wait_until_joined();
    let from = world.connect(0);
    let to = world.connect(1);
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    for n in 0..200 {
        let len = [largest, 1, largest / 2, 100][n % 4];
        let payload = vec![b'a' + (n % 26) as u8; len];
        router_client::encode_frame(to.id(), &payload, &mut stream).expect("no 0x00");
        expected.extend_from_slice(&payload);
        expected.push(0);
    }
    world.write(0, from, &stream);
    world.run_until("every frame", WAIT * 3, |w| {
        w.received(1, to).len() >= expected.len()
    });
    assert!(world.received(1, to) == &expected[..], "whole and in order");
    let stats = world.node(0).bridge.stats();
    assert_eq!(
        stats
            .publish_errors
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    assert_eq!(world.node(1).router.stats().dropped_total().frames, 0);
}

#[test]
fn messages_async_nats_drops_for_a_slow_subscription_are_counted() {
    let server = NatsServer::start();
    let config = test_config();
    let mut options = ClusterOptions::new(server.url(), 1, support::node::NODE_BITS, 0);
    // One message of room: a burst read at once overflows it, as a node too
    // slow for its peers would.
    options.subscription_capacity = 1;
    let mut world = World::new(vec![
        Node::start(&server.url(), 0, &config, 1),
        Node::start_with(options, &config, 1),
    ]);
    world.wait_until_joined();
    let burst: Vec<Vec<u8>> = (0..2000)
        .map(|n| format!("noise {n}").into_bytes())
        .collect();
    publish_raw(&server, "router.1", &burst);
    let counter = |w: &mut World, pick: fn(&ClusterStats) -> &AtomicU64| {
        ClusterStats::get(pick(&w.node(1).bridge.stats()))
    };
    world.run_until("slow-consumer drops to be counted", WAIT, |w| {
        counter(w, |s| &s.slow_consumer_events) > 0
    });
    // Every message was dropped by one or the other, never queued without
    // bound (events themselves may be dropped when their channel is full).
    let unroutable = counter(&mut world, |s| &s.unroutable);
    let slow = counter(&mut world, |s| &s.slow_consumer_events);
    assert!(unroutable + slow <= 2000, "{unroutable} + {slow}");
    // The node still hears its peer.
    let heard = |w: &mut World| ClusterStats::get(&w.node(1).bridge.stats().nodes[0].batches_in);
    let before = heard(&mut world);
    world.run_until("a heartbeat after the burst", WAIT, |w| heard(w) > before);
}
