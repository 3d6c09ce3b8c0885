//! Router nodes over NATS, each one core with in-memory clients, all driven
//! by the test's thread until what the test waits for happens.

use std::collections::{HashMap, HashSet};
use std::io::{self, IoSlice};
use std::sync::Arc;
use std::thread::Thread;
use std::time::{Duration, Instant};

use router_cluster::{Bridge, ClusterOptions};
use router_core::{Config, ConnHandle, IdLayout, Io, PeerId, Router};
use router_links::{CoreLinks, Doorbell, Wake};

/// Node bits of every test cluster.
pub const NODE_BITS: u8 = 2;

/// Wakes the test's thread.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(&self) {
        self.0.unpark();
    }
}

/// One node: a router core, its bridge and links, and its clients.
pub struct Node {
    pub router: Router,
    pub bridge: Bridge,
    links: CoreLinks,
    pub received: HashMap<ConnHandle, Vec<u8>>,
    /// Clients that read nothing.
    pub blocked: HashSet<ConnHandle>,
}

/// The limits of every test node: short peer timeout, small windows.
pub fn test_config() -> Config {
    Config {
        peer_timeout: Duration::from_millis(600),
        peer_window: 16 * 1024,
        outbound_high_water: 8 * 1024,
        outbound_low_water: 2 * 1024,
        max_frame_bytes: 64 * 1024,
        ..Config::default()
    }
}

impl Node {
    /// Node `node` on the NATS server at `url`, with `config` (its layout
    /// and batch bound set here) and incarnation `incarnation`.
    pub fn start(url: &str, node: u32, config: &Config, incarnation: u64) -> Node {
        let options = ClusterOptions::new(url, node, NODE_BITS, 0);
        Self::start_with(options, config, incarnation)
    }

    pub fn start_with(options: ClusterOptions, config: &Config, incarnation: u64) -> Node {
        let bridge = Bridge::connect(options.clone()).expect("joined NATS");
        let router = Router::new(Config {
            id_layout: IdLayout::new(options.node_bits, options.node, 0, 0),
            incarnation,
            max_batch_bytes: bridge.max_payload(),
            ..config.clone()
        })
        .expect("a valid config");
        let doorbell = Arc::new(Doorbell::new(Box::new(Unpark(std::thread::current()))));
        let links = bridge.links(0, doorbell.clone()).expect("shard 0");
        Node {
            router,
            bridge,
            links: CoreLinks::new(Box::new(links), doorbell),
            received: HashMap::new(),
            blocked: HashSet::new(),
        }
    }

    /// One turn of the node's loop: peer changes, arrived batches, timers,
    /// then everything the router wants done.
    pub fn turn(&mut self, now: Instant) {
        self.links.take_in(&mut self.router, now);
        let mut io = NodeIo {
            received: &mut self.received,
            blocked: &self.blocked,
            links: &mut self.links,
        };
        self.router.drive(now, &mut io);
    }

    /// The peer that is node `node`'s only core.
    pub fn peer(node: u32) -> PeerId {
        PeerId::new(node, 0)
    }
}

struct NodeIo<'a> {
    received: &'a mut HashMap<ConnHandle, Vec<u8>>,
    blocked: &'a HashSet<ConnHandle>,
    links: &'a mut CoreLinks,
}

impl Io for NodeIo<'_> {
    fn write(&mut self, conn: ConnHandle, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        if self.blocked.contains(&conn) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let Some(received) = self.received.get_mut(&conn) else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        let mut written = 0;
        for slice in slices {
            received.extend_from_slice(slice);
            written += slice.len();
        }
        Ok(written)
    }

    fn close(&mut self, conn: ConnHandle) {
        self.received.remove(&conn);
    }

    fn resume_reading(&mut self, _conn: ConnHandle) {}

    fn stop_listening(&mut self) {}

    fn send_to_peer(&mut self, peer: PeerId, batch: &mut Vec<u8>) -> bool {
        self.links.send(peer, batch)
    }
}

/// The nodes of a test, by index (`None`: not running).
pub struct World {
    pub nodes: Vec<Option<Node>>,
    /// What each client still has to write, fed as its router reads it.
    unwritten: HashMap<(usize, ConnHandle), Vec<u8>>,
}

impl World {
    pub fn new(nodes: Vec<Node>) -> World {
        World {
            nodes: nodes.into_iter().map(Some).collect(),
            unwritten: HashMap::new(),
        }
    }

    pub fn node(&mut self, i: usize) -> &mut Node {
        self.nodes[i].as_mut().expect("node running")
    }

    /// Drives every node until `done` holds, for at most `within`; panics
    /// with `what` if it never does. Between turns the thread sleeps until a
    /// batch arrives (a doorbell) or a router's timer is due.
    pub fn run_until(
        &mut self,
        what: &str,
        within: Duration,
        mut done: impl FnMut(&mut World) -> bool,
    ) {
        let deadline = Instant::now() + within;
        loop {
            let now = Instant::now();
            self.feed_writers(now);
            for node in self.nodes.iter_mut().flatten() {
                node.turn(now);
            }
            if done(self) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            let now = Instant::now();
            let mut news = false;
            for node in self.nodes.iter_mut().flatten() {
                news |= node.links.before_wait(&mut node.router, now);
            }
            if news {
                continue;
            }
            let mut wake = deadline;
            for node in self.nodes.iter().flatten() {
                if let Some(at) = node.router.poll_timeout() {
                    wake = wake.min(at);
                }
            }
            // A ring since `before_wait` unparks at once (park's token).
            let wait = wake
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(50));
            std::thread::park_timeout(wait);
            for node in self.nodes.iter().flatten() {
                node.links.after_wait();
            }
        }
    }

    /// Drives every node for `span`, whatever happens: for what must
    /// *not* happen within a time.
    pub fn run_for(&mut self, span: Duration) {
        let end = Instant::now() + span;
        self.run_until("the time to pass", span + Duration::from_secs(1), |_| {
            Instant::now() >= end
        });
    }

    /// Waits until every running node has heard every other running one.
    pub fn wait_until_joined(&mut self) {
        let running: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_some())
            .collect();
        self.run_until(
            "the nodes to hear each other",
            Duration::from_secs(10),
            |world| {
                running.iter().all(|&i| {
                    let node = world.nodes[i].as_ref().expect("running");
                    running.iter().filter(|&&j| j != i).all(|&j| {
                        let traffic = &node.bridge.stats().nodes[j];
                        traffic
                            .batches_in
                            .load(std::sync::atomic::Ordering::Relaxed)
                            > 0
                    })
                })
            },
        );
    }

    /// Client `from` of node `i` writes `bytes` from now on, as fast as its
    /// router reads them: [`run_until`](Self::run_until) feeds it.
    pub fn write(&mut self, i: usize, from: ConnHandle, bytes: &[u8]) {
        self.unwritten
            .entry((i, from))
            .or_default()
            .extend_from_slice(bytes);
    }

    /// Bytes client `from` of node `i` has not yet got its router to read.
    pub fn unwritten(&self, i: usize, from: ConnHandle) -> usize {
        self.unwritten.get(&(i, from)).map_or(0, Vec::len)
    }

    /// Feeds each writing client's router one read's worth, if it reads.
    fn feed_writers(&mut self, now: Instant) {
        const READ: usize = 16 * 1024;
        for (&(i, conn), bytes) in self.unwritten.iter_mut() {
            let Some(node) = self.nodes[i].as_mut() else {
                continue;
            };
            if bytes.is_empty() || !node.router.wants_read(conn) {
                continue;
            }
            let len = bytes.len().min(READ);
            node.router.handle_input(conn, &bytes[..len], now);
            bytes.drain(..len);
        }
    }

    /// A new client of node `i`, its ID read.
    pub fn connect(&mut self, i: usize) -> ConnHandle {
        let now = Instant::now();
        let node = self.node(i);
        let conn = node.router.handle_accept(now).expect("accepted");
        node.received.insert(conn, Vec::new());
        node.turn(now);
        let id = std::mem::take(node.received.get_mut(&conn).expect("open"));
        assert_eq!(id, conn.id().to_be_bytes());
        conn
    }

    /// Client `from` of node `i` sends `payload` to ID `to`.
    pub fn send(&mut self, i: usize, from: ConnHandle, to: u32, payload: &[u8]) {
        let mut frame = Vec::new();
        router_client::encode_frame(to, payload, &mut frame).expect("no 0x00 inside");
        self.send_bytes(i, from, &frame);
    }

    /// Client `from` of node `i` writes `bytes`.
    pub fn send_bytes(&mut self, i: usize, from: ConnHandle, bytes: &[u8]) {
        let now = Instant::now();
        let node = self.node(i);
        node.router.handle_input(from, bytes, now);
        node.turn(now);
    }

    /// What client `conn` of node `i` received so far.
    pub fn received(&mut self, i: usize, conn: ConnHandle) -> &[u8] {
        self.node(i).received.get(&conn).map_or(&[], Vec::as_slice)
    }

    /// Client `conn` of node `i` reads again.
    pub fn unblock(&mut self, i: usize, conn: ConnHandle) {
        let node = self.node(i);
        node.blocked.remove(&conn);
        node.router.handle_writable(conn);
        node.turn(Instant::now());
    }
}
