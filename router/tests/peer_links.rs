//! Two loops, each with its own router core, joined by peer links: a frame
//! from a client of one reaches a client of the other, on every driver, and
//! the loop it reaches is woken by its doorbell, since nothing else would
//! wake it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread;
use std::time::Duration;

use router::{Driver, Server};
use router_core::{Config, IdLayout, PeerId, Router};
use router_links::{Doorbell, PeerChange, PeerLinks};

/// One direction of the simplest link: a channel, and the doorbell of the
/// loop at its far end.
struct ChannelLinks {
    peer: PeerId,
    announced: bool,
    out: Sender<Vec<u8>>,
    far_doorbell: Arc<Doorbell>,
    from_peer: Receiver<Vec<u8>>,
}

impl PeerLinks for ChannelLinks {
    fn poll_change(&mut self) -> Option<PeerChange> {
        (!std::mem::replace(&mut self.announced, true)).then_some(PeerChange::Up(self.peer))
    }

    fn send(&mut self, peer: PeerId, batch: &mut Vec<u8>) -> bool {
        assert_eq!(peer, self.peer);
        let sent = self.out.send(std::mem::take(batch)).is_ok();
        self.far_doorbell.ring();
        sent
    }

    fn receive(&mut self, take: &mut dyn FnMut(&[u8])) -> usize {
        self.from_peer.try_iter().map(|batch| take(&batch)).count()
    }
}

fn shard(driver: Driver, index: u32) -> Server {
    let id_layout = IdLayout::new(0, 0, 1, index);
    let router = Router::new(Config {
        id_layout,
        // No heartbeat falls due during the test: a loop that sleeps wakes
        // for a batch only through its doorbell.
        peer_timeout: Duration::from_secs(3600),
        ..Config::default()
    })
    .unwrap();
    let listener = router::listen("127.0.0.1:0".parse().unwrap()).unwrap();
    Server::new(driver, listener, router).unwrap()
}

fn read_id(client: &mut TcpStream) -> u32 {
    let mut id = [0; 4];
    client.read_exact(&mut id).unwrap();
    u32::from_be_bytes(id)
}

#[test]
fn a_frame_crosses_to_the_other_loop_and_wakes_it() {
    for driver in Driver::ALL {
        crosses_and_wakes(driver);
    }
}

fn crosses_and_wakes(driver: Driver) {
    let (zero, one) = (shard(driver, 0), shard(driver, 1));
    let (to_one, one_in) = channel();
    let (to_zero, zero_in) = channel();
    let (bell_zero, bell_one) = (zero.doorbell(), one.doorbell());
    let zero = zero.with_peer_links(Box::new(ChannelLinks {
        peer: PeerId::new(0, 1),
        announced: false,
        out: to_one,
        far_doorbell: bell_one,
        from_peer: zero_in,
    }));
    let one = one.with_peer_links(Box::new(ChannelLinks {
        peer: PeerId::new(0, 0),
        announced: false,
        out: to_zero,
        far_doorbell: bell_zero,
        from_peer: one_in,
    }));
    let (addr_zero, addr_one) = (zero.local_addr().unwrap(), one.local_addr().unwrap());
    let (stop_zero, stop_one) = (zero.shutdown_handle(), one.shutdown_handle());
    let running = [thread::spawn(|| zero.run()), thread::spawn(|| one.run())];

    let mut alice = TcpStream::connect(addr_zero).unwrap();
    let mut bob = TcpStream::connect(addr_one).unwrap();
    assert_eq!(read_id(&mut alice) >> 31, 0, "alice is on shard 0");
    let bob_id = read_id(&mut bob);
    assert_eq!(bob_id >> 31, 1, "bob is on shard 1");
    bob.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for round in 0..3 {
        let mut frame = bob_id.to_be_bytes().to_vec();
        frame.extend_from_slice(&[b'a' + round, 0]);
        alice.write_all(&frame).unwrap();
        let mut payload = [0; 2];
        bob.read_exact(&mut payload)
            .unwrap_or_else(|error| panic!("{driver:?}: frame {round} not delivered: {error}"));
        assert_eq!(payload, [b'a' + round, 0]);
    }

    stop_zero.shutdown();
    stop_one.shutdown();
    let [zero, one] = running.map(|loop_| loop_.join().unwrap().unwrap());
    assert_eq!(zero.forwarded.frames, 3);
    assert_eq!(one.from_peers.frames, 3);
}
