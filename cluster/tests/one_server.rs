//! Two router nodes joined through one real NATS server: the reference
//! exchange, order and wholeness, backpressure, and bad input on a node's
//! subject, with sender and destination on different nodes.

mod support;

use std::time::Duration;

use router_core::DropCause;
use support::{NatsServer, Node, World, node::test_config};

const WAIT: Duration = Duration::from_secs(10);

fn two_nodes(server: &NatsServer) -> World {
    let config = test_config();
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
    let one = world.connect(0);
    let two = world.connect(1);
    world.send(0, one, two.id(), b"hello, number 2");
    world.run_until("number 2's frame", WAIT, |w| !w.received(1, two).is_empty());
    assert_eq!(world.received(1, two), b"hello, number 2\0");
    world.send(1, two, one.id(), b"hello back, number 1");
    world.run_until("number 1's frame", WAIT, |w| !w.received(0, one).is_empty());
    assert_eq!(world.received(0, one), b"hello back, number 1\0");
}
