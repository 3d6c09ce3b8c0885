//! Three router nodes, each on its own server of a three-server NATS cluster
//! (routes on loopback): frames cross servers as well as nodes.

mod support;

use std::time::Duration;

use support::nats::nats_cluster;
use support::node::test_config;
use support::{Node, World};

const WAIT: Duration = Duration::from_secs(15);

fn three_nodes() -> (Vec<support::NatsServer>, World) {
    let servers = nats_cluster(3);
    let config = test_config();
    let nodes = servers
        .iter()
        .enumerate()
        .map(|(i, server)| Node::start(&server.url(), i as u32, &config, 1))
        .collect();
    let mut world = World::new(nodes);
    // Routes form, and interest in each node's subject spreads, before any
    // node hears every other.
    world.wait_until_joined();
    (servers, world)
}

#[test]
fn the_reference_exchange_and_ordered_streams_cross_a_nats_cluster() {
    let (_servers, mut world) = three_nodes();
    world.reference_exchange(0, 2);

    // A stream around the ring of nodes, and one into node 0 from each.
    let streams = world.start_streams(&[(0, 1), (1, 2), (2, 0), (1, 0), (2, 0)], 300, 2500);
    world.finish_streams(&streams, WAIT * 2);
    for i in 0..3 {
        let stats = world.node(i).router.stats().clone();
        assert_eq!(stats.dropped_total().frames, 0, "node {i}: {stats:?}");
    }
}

#[test]
fn a_slow_reader_pauses_senders_on_two_other_nodes_of_the_nats_cluster() {
    let (_servers, mut world) = three_nodes();
    let config = test_config();
    let reader = world.connect(2);
    world.node(2).blocked.insert(reader);
    let senders = [world.connect(0), world.connect(1)];
    let mut expected = Vec::new();
    for (i, &sender) in senders.iter().enumerate() {
        let mut stream = Vec::new();
        for n in 0..1500 {
            let payload = format!("from {i} {n:>600}");
            router_client::encode_frame(reader.id(), payload.as_bytes(), &mut stream)
                .expect("no 0x00");
        }
        expected.push(stream.len() - 1500 * 4);
        world.write(i, sender, &stream);
    }
    world.run_until("both senders to pause", WAIT, |w| {
        (0..2).all(|i| {
            w.node(i)
                .router
                .connection_info(senders[i])
                .expect("open")
                .paused
        })
    });
    let queued = world
        .node(2)
        .router
        .connection_info(reader)
        .expect("open")
        .queued_bytes;
    let bound = config.outbound_high_water + 2 * config.peer_window + config.max_frame_bytes;
    assert!(queued <= bound, "{queued} queued, bound {bound}");
    world.unblock(2, reader);
    let total: usize = expected.iter().sum();
    world.run_until("both floods", WAIT * 2, |w| {
        w.received(2, reader).len() >= total
    });
    assert_eq!(world.received(2, reader).len(), total);
    assert_eq!(world.node(2).router.stats().dropped_total().frames, 0);
}
