//! What the cluster does when NATS or a node fails: frames lost are counted,
//! never silently gone; senders never wait on an owner that cannot answer;
//! the cluster heals without restarting a router.

mod support;

use std::time::{Duration, Instant};

use router_core::{ConnHandle, DropCause};
use support::node::test_config;
use support::{NatsServer, Node, World};

const WAIT: Duration = Duration::from_secs(15);

fn two_nodes(server: &NatsServer, incarnations: [u64; 2]) -> World {
    let config = test_config();
    let mut world = World::new(vec![
        Node::start(&server.url(), 0, &config, incarnations[0]),
        Node::start(&server.url(), 1, &config, incarnations[1]),
    ]);
    world.wait_until_joined();
    world
}

/// Frames every node counted dropped, by cause.
fn dropped(world: &mut World, cause: DropCause) -> u64 {
    (0..world.nodes.len())
        .filter_map(|i| world.nodes[i].as_ref())
        .map(|node| node.router.stats().dropped(cause).frames)
        .sum()
}

fn frames_in(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == 0).count() as u64
}

/// Sends numbered frames from `from` until one reaches `to`; returns how
/// many were sent.
fn probe_until_delivered(
    world: &mut World,
    from: (usize, ConnHandle),
    to: (usize, ConnHandle),
) -> u64 {
    let already = world.received(to.0, to.1).len();
    let mut sent = 0;
    let mut last: Option<Instant> = None;
    world.run_until("a frame to cross again", WAIT, |w| {
        if w.received(to.0, to.1).len() > already {
            return true;
        }
        // One probe per 100 ms: NATS reconnects with a backoff of seconds.
        if last.is_none_or(|at| at.elapsed() >= Duration::from_millis(100)) {
            w.send(
                from.0,
                from.1,
                to.1.id(),
                format!("probe {sent}").as_bytes(),
            );
            sent += 1;
            last = Some(Instant::now());
        }
        false
    });
    sent
}

#[test]
fn a_nats_restart_counts_the_frames_in_the_gap_and_the_cluster_heals() {
    let mut server = NatsServer::start();
    let mut world = two_nodes(&server, [1, 1]);
    let from = world.connect(0);
    let to = world.connect(1);
    world.send(0, from, to.id(), b"before");
    world.run_until("a frame before", WAIT, |w| !w.received(1, to).is_empty());

    server.stop();
    for n in 0..50 {
        world.send(0, from, to.id(), format!("in the gap {n}").as_bytes());
    }
    let timeout = test_config().peer_timeout;
    // Frames published before the bridge saw the connection drop are lost
    // in transit (node 1 counts them when it hears node 0 again); those
    // after it wait in node 0's core, until node 1 is unreachable.
    world.run_until("node 1 to be unreachable", WAIT, |w| {
        !w.node(0)
            .router
            .peer_info(Node::peer(1))
            .expect("a peer")
            .reachable
    });
    assert!(
        world
            .node(0)
            .router
            .connection_info(from)
            .is_some_and(|info| !info.paused),
        "the sender does not wait on an unreachable owner"
    );
    assert!(world.node(0).router.stats().peer_timeouts >= 1);
    assert!(timeout < WAIT);

    server.restart();
    let probes = probe_until_delivered(&mut world, (0, from), (1, to));
    // Both ways work again, without restarting either router.
    let back = world.connect(0);
    world.send(1, to, back.id(), b"back");
    world.run_until("a frame back", WAIT, |w| !w.received(0, back).is_empty());
    world.run_until("the books to settle", WAIT, |w| {
        w.node(0).router.stats().peer_bytes_in_flight == 0
    });

    // Nothing silently lost: every frame written was delivered or counted.
    let written = 1 + 50 + probes;
    let delivered = frames_in(world.received(1, to));
    let counted =
        dropped(&mut world, DropCause::NoRoute) + dropped(&mut world, DropCause::InTransit);
    assert_eq!(
        delivered + counted,
        written,
        "{delivered} delivered, {counted} counted"
    );
    let stats = world.node(0).bridge.stats();
    assert!(stats.disconnects.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    assert!(stats.reconnects.load(std::sync::atomic::Ordering::Relaxed) >= 1);
}

#[test]
fn a_dead_node_becomes_no_route_and_senders_waiting_on_it_resume() {
    let server = NatsServer::start();
    let mut world = two_nodes(&server, [1, 1]);
    let sender = world.connect(0);
    let reader = world.connect(1);
    // The reader on node 1 reads nothing: the sender on node 0 pauses.
    world.node(1).blocked.insert(reader);
    let mut flood = Vec::new();
    for n in 0..3000 {
        router_client::encode_frame(
            reader.id(),
            format!("flood {n:>400}").as_bytes(),
            &mut flood,
        )
        .expect("no 0x00");
    }
    world.write(0, sender, &flood);
    world.run_until("the sender to pause", WAIT, |w| {
        w.node(0)
            .router
            .connection_info(sender)
            .expect("open")
            .paused
    });

    world.nodes[1] = None; // Node 1 dies: its bridge and router are gone.
    world.run_until(
        "the sender to resume and its frames to count no_route",
        WAIT,
        |w| {
            let router = &w.node(0).router;
            !router.connection_info(sender).expect("open").paused
                && router.stats().dropped(DropCause::NoRoute).frames > 0
                && w.unwritten(0, sender) == 0
        },
    );
    let router = &world.node(0).router;
    assert!(!router.peer_info(Node::peer(1)).expect("a peer").reachable);
    assert!(router.stats().peer_timeouts >= 1);
    assert_eq!(
        router.stats().peer_bytes_in_flight,
        0,
        "written off with the link"
    );
    // Local traffic never waited.
    let a = world.connect(0);
    let b = world.connect(0);
    world.send(0, a, b.id(), b"local");
    assert_eq!(world.received(0, b), b"local\0");
}

#[test]
fn a_restarted_node_hands_out_none_of_its_previous_ids_and_counts_frames_to_them() {
    let server = NatsServer::start();
    let config = test_config();
    let mut world = two_nodes(&server, [1_000, 1_000]);
    let sender = world.connect(0);
    let old = world.connect(1);
    world.send(0, sender, old.id(), b"to the first run");
    world.run_until("the first run's frame", WAIT, |w| {
        !w.received(1, old).is_empty()
    });

    // Node 1 restarts, a second later by its incarnation (its start in ms).
    world.nodes[1] = None;
    world.nodes[1] = Some(Node::start(&server.url(), 1, &config, 2_000));
    world.wait_until_joined();
    let new = world.connect(1);
    assert_ne!(new.id(), old.id(), "no ID of the previous run");

    // A frame for the old ID is the owner's to count; the new client gets
    // only what is sent to it.
    world.send(0, sender, old.id(), b"to the old id");
    probe_until_delivered(&mut world, (0, sender), (1, new));
    world.run_until("the frame to the old id to be counted", WAIT, |w| {
        w.node(1)
            .router
            .stats()
            .dropped(DropCause::UnknownDestination)
            .frames
            + w.node(0).router.stats().dropped(DropCause::NoRoute).frames
            >= 1
    });
    assert!(world.received(1, new).starts_with(b"probe"));
}
