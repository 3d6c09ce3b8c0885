//! The cluster world: several routers, each with its own clients, a link
//! for every ordered pair of routers, and the driving that moves bytes.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use router_core::peer::wire;
use std::io::{self, IoSlice};

use router_core::{AcceptError, Config, ConnHandle, IdLayout, Io, PeerId, Router};

use super::ops::ClusterOp;
use crate::network::{Network, Told};
use crate::ops::Target;
use crate::oracle::Oracle;
use crate::stream::ClientStream;

/// Set in every raw destination ID: the top bit of a core's 30-bit sequence.
const RAW_ID_BIT: u32 = 1 << 29;

/// Most rounds of driving one step may take before it counts as a livelock.
const MAX_DRIVE_ROUNDS: usize = 10_000;

/// Several routers and their clients. Every method panics, saying what
/// broke, as soon as an invariant does.
#[derive(Debug)]
pub struct Cluster {
    pub(super) routers: Vec<Router>,
    /// Each router's clients' sockets.
    networks: Vec<Network>,
    pub(super) clients: Vec<Client>,
    /// Every ordered pair of distinct routers.
    pub(super) links: Vec<Link>,
    /// Routers cut off from all others.
    partitioned: Vec<bool>,
    pub(super) now: Instant,
    pub(super) oracle: Oracle,
    /// Most bytes one [`ClusterOp::Deliver`] hands a router.
    pub(super) max_read: usize,
}

/// One direction between two routers: batches in order, which may be held
/// back (stalled), refused by a full ring, or lost when the link goes down.
#[derive(Debug)]
pub(super) struct Link {
    pub(super) from: usize,
    pub(super) to: usize,
    pub(super) queue: VecDeque<Vec<u8>>,
    stalled: bool,
    refusing: bool,
    /// Down by [`ClusterOp::ToggleDown`] (both directions share it).
    pair_down: bool,
    /// What the routers at both ends were last told: down or up.
    told_down: bool,
    last_carried: Option<Vec<u8>>,
}

#[derive(Debug)]
pub(super) struct Client {
    pub(super) router: usize,
    pub(super) conn: ConnHandle,
    /// What it wrote and the router has not read, and what it received.
    stream: ClientStream,
    reading: bool,
    pub(super) eof: bool,
    pub(super) closed: bool,
}

/// The core that router `index` is: node `index / 2`, shard `index % 2`.
pub(super) fn peer_of(index: usize) -> PeerId {
    PeerId::new(index as u32 / 2, index as u32 % 2)
}

fn index_of_peer(peer: PeerId) -> usize {
    (peer.node * 2 + peer.shard) as usize
}

impl Cluster {
    /// `routers` routers (2 to 4) with `config`, each given its place in
    /// the layout, every link up.
    pub fn new(config: &Config, routers: usize) -> Cluster {
        assert!((2..=4).contains(&routers), "2 to 4 routers");
        let now = crate::epoch();
        let mut list: Vec<Router> = (0..routers)
            .map(|i| {
                let me = peer_of(i);
                Router::new(Config {
                    id_layout: IdLayout::new(1, me.node, 1, me.shard),
                    incarnation: 1000 + i as u64,
                    ..config.clone()
                })
                .expect("cluster config must be valid")
            })
            .collect();
        let mut links = Vec::new();
        for (from, router) in list.iter_mut().enumerate() {
            for to in (0..routers).filter(|&to| to != from) {
                router
                    .handle_peer_up(peer_of(to), now)
                    .expect("a peer in the layout");
                links.push(Link {
                    from,
                    to,
                    queue: VecDeque::new(),
                    stalled: false,
                    refusing: false,
                    pair_down: false,
                    told_down: false,
                    last_carried: None,
                });
            }
        }
        let mut cluster = Cluster {
            networks: (0..list.len()).map(|_| Network::new()).collect(),
            routers: list,
            clients: Vec::new(),
            links,
            partitioned: vec![false; routers],
            now,
            oracle: Oracle::default(),
            max_read: usize::from(u16::MAX),
        };
        cluster.drive();
        cluster
    }

    /// The routers.
    pub fn routers(&self) -> &[Router] {
        &self.routers
    }

    /// Applies `op`, lets every router do all it wants, and checks every
    /// invariant.
    pub fn apply(&mut self, op: &ClusterOp) {
        match *op {
            ClusterOp::Connect { router } => self.connect(usize::from(router) % self.routers.len()),
            ClusterOp::Send { from, to, len } => self.send(from, to, len),
            ClusterOp::Deliver { client, max } => {
                if let Some(index) = self.pick_sender(client) {
                    self.deliver_to(index, usize::from(max).max(1));
                }
            }
            ClusterOp::Read { client, bytes } => self.open_window(client, usize::from(bytes)),
            ClusterOp::ToggleReading { client } => {
                if let Some(index) = self.pick(client) {
                    let c = &mut self.clients[index];
                    c.reading = !c.reading;
                    let reading = c.reading;
                    self.socket(index).set_reading(reading);
                    self.report_writable(index);
                }
            }
            ClusterOp::Eof { client } => {
                if let Some(index) = self.pick_sender(client) {
                    let c = &mut self.clients[index];
                    c.eof = true;
                    c.stream.abandon_unread();
                    self.routers[c.router].handle_eof(c.conn, self.now);
                }
            }
            ClusterOp::Reset { client } => {
                if let Some(index) = self.pick(client) {
                    let c = &self.clients[index];
                    self.routers[c.router].handle_reset(c.conn, self.now);
                }
            }
            ClusterOp::Carry { link, batches } => {
                let link = usize::from(link) % self.links.len();
                self.carry(link, usize::from(batches));
            }
            ClusterOp::ToggleStall { link } => {
                let link = usize::from(link) % self.links.len();
                self.links[link].stalled = !self.links[link].stalled;
            }
            ClusterOp::ToggleRefusing { link } => {
                let link = usize::from(link) % self.links.len();
                self.links[link].refusing = !self.links[link].refusing;
            }
            ClusterOp::ToggleDown { link } => {
                let link = usize::from(link) % self.links.len();
                let (a, b) = (self.links[link].from, self.links[link].to);
                for l in &mut self.links {
                    if (l.from, l.to) == (a, b) || (l.from, l.to) == (b, a) {
                        l.pair_down = !l.pair_down;
                    }
                }
                self.update_link_states();
            }
            ClusterOp::TogglePartition { router } => {
                let router = usize::from(router) % self.routers.len();
                self.partitioned[router] = !self.partitioned[router];
                self.update_link_states();
            }
            ClusterOp::PeerGarbage {
                router,
                magic,
                ref bytes,
            } => self.peer_garbage(usize::from(router) % self.routers.len(), magic, bytes),
            ClusterOp::Replay { link } => self.replay(usize::from(link) % self.links.len()),
            ClusterOp::Advance { millis } => self.advance(Duration::from_millis(u64::from(millis))),
        }
        self.drive();
        self.check_invariants();
        self.check_quiet_world_has_no_paused_sender();
    }

    fn connect(&mut self, router: usize) {
        let limit = self.routers[router].config().max_connections;
        let live = self
            .clients
            .iter()
            .filter(|c| c.router == router && !c.closed)
            .count();
        match self.routers[router].handle_accept(self.now) {
            Ok(conn) => {
                assert!(live < limit, "accepted past the limit");
                assert!(
                    self.clients.iter().all(|c| c.closed || c.conn != conn),
                    "ID {conn} handed out while live somewhere in the cluster"
                );
                self.networks[router].connect(conn);
                self.clients.push(Client::new(router, conn));
            }
            Err(AcceptError::ConnectionLimit(_)) => {
                assert!(live >= limit, "refused below the limit")
            }
            Err(AcceptError::ShuttingDown) => panic!("refused for a shutdown nobody asked for"),
        }
    }

    fn send(&mut self, from: u8, to: Target, len: u16) {
        let dest = match to {
            // The owner judges a destination when the frame arrives: a frame
            // to an ID it hands out while the frame is in flight reaches the
            // new client, which only a client guessing IDs can provoke, and
            // which the oracle (judging when the sender's core read it) would
            // call a wrong delivery. Raw IDs therefore come from the top half
            // of each core's sequence space, which no run reaches.
            Target::Raw(id) => id | RAW_ID_BIT,
            Target::Live(index) => match self.pick(index) {
                Some(index) => self.clients[index].conn.id(),
                None => return,
            },
            Target::Any(index) if !self.clients.is_empty() => self.clients
                [usize::from(index) % self.clients.len()]
            .conn
            .id(),
            Target::Any(_) => return,
        };
        let Some(index) = self.pick_sender(from) else {
            return;
        };
        let c = &mut self.clients[index];
        c.stream.write_frame(c.conn.id(), dest, len);
    }

    /// The router of client `index` reads up to `max` of its bytes, if it
    /// wants to read that client, and no more than a driver's read buffer
    /// holds (`max_read`), which the buffer bound checked after every step
    /// assumes.
    fn deliver_to(&mut self, index: usize, max: usize) {
        let (router, conn) = (self.clients[index].router, self.clients[index].conn);
        if !self.routers[router].wants_read(conn) {
            return;
        }
        let max = max.min(self.max_read);
        let c = &mut self.clients[index];
        if max == 0 || c.stream.unread_len() == 0 {
            return;
        }
        let (chunk, read_whole) = c.stream.read(max);
        for (stamp, dest) in read_whole {
            let open = self
                .clients
                .iter()
                .any(|c| c.conn.id() == dest && !c.closed && !c.eof);
            self.oracle.record_sent(stamp, dest, open);
        }
        self.routers[router].handle_input(conn, &chunk, self.now);
    }

    fn open_window(&mut self, client: u8, bytes: usize) {
        let Some(index) = self.pick(client) else {
            return;
        };
        self.socket(index).open_window(bytes);
        self.report_writable(index);
    }

    /// Client `index`'s socket.
    fn socket(&mut self, index: usize) -> &mut crate::network::Socket {
        let c = &self.clients[index];
        self.networks[c.router].socket(c.conn)
    }

    /// Tells the router a client's socket takes bytes again, if it had said
    /// `WouldBlock`.
    fn report_writable(&mut self, index: usize) {
        let socket = self.socket(index);
        if socket.can_take() && socket.unblock() {
            let c = &self.clients[index];
            self.routers[c.router].handle_writable(c.conn);
        }
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        for router in &mut self.routers {
            if router.poll_timeout().is_some_and(|at| at <= self.now) {
                router.handle_timeout(self.now);
            }
        }
    }

    /// Link `index` delivers up to `batches` batches, unless it is stalled
    /// or down.
    pub(super) fn carry(&mut self, index: usize, batches: usize) {
        if self.links[index].stalled || self.links[index].told_down {
            return;
        }
        for _ in 0..batches {
            let Some(batch) = self.links[index].queue.pop_front() else {
                return;
            };
            let to = self.links[index].to;
            self.routers[to].handle_peer_input(&batch, self.now);
            self.links[index].last_carried = Some(batch);
        }
    }

    /// Delivers the link's last batch again: a replay, which its receiver
    /// must refuse.
    fn replay(&mut self, index: usize) {
        let Some(batch) = self.links[index].last_carried.clone() else {
            return;
        };
        let router = &mut self.routers[self.links[index].to];
        let refused = router.stats().peer_batches_rejected;
        router.handle_peer_input(&batch, self.now);
        assert_eq!(
            router.stats().peer_batches_rejected,
            refused + 1,
            "a replayed batch was taken"
        );
    }

    /// Bytes that are no batch of any link arrive at `router`. With `magic`,
    /// they start like a batch from a core that is nobody's peer, so they
    /// get through more checks before they are refused.
    fn peer_garbage(&mut self, router: usize, magic: bool, bytes: &[u8]) {
        let mut garbage = Vec::new();
        if magic {
            garbage.extend_from_slice(&wire::MAGIC);
            garbage.extend_from_slice(&bytes[..bytes.len().min(4)]);
            garbage.extend_from_slice(&[0xFF; 8]); // From node and shard 2^32 - 1.
            garbage.extend_from_slice(bytes.get(4..).unwrap_or_default());
        } else {
            garbage.extend_from_slice(bytes);
        }
        let router = &mut self.routers[router];
        let refused = router.stats().peer_batches_rejected;
        router.handle_peer_input(&garbage, self.now);
        assert_eq!(
            router.stats().peer_batches_rejected,
            refused + 1,
            "garbage from a peer was taken"
        );
    }

    /// Tells both ends of every link whose state changed, and loses what a
    /// link that went down carried.
    pub(super) fn update_link_states(&mut self) {
        for index in 0..self.links.len() {
            let l = &self.links[index];
            let down = l.pair_down || self.partitioned[l.from] || self.partitioned[l.to];
            if down == l.told_down {
                continue;
            }
            let (from, to) = (l.from, l.to);
            let l = &mut self.links[index];
            l.told_down = down;
            if down {
                l.queue.clear();
                self.routers[from].handle_peer_down(peer_of(to), self.now);
            } else {
                self.routers[from]
                    .handle_peer_up(peer_of(to), self.now)
                    .expect("a peer in the layout");
            }
        }
    }

    /// Brings every link back: up, carrying, taking batches.
    pub(super) fn heal(&mut self) {
        self.partitioned.iter_mut().for_each(|p| *p = false);
        for l in &mut self.links {
            l.pair_down = false;
            l.stalled = false;
            l.refusing = false;
        }
        self.update_link_states();
    }

    /// Every client reads everything and sends everything it queued.
    pub(super) fn unblock_clients(&mut self) {
        for index in 0..self.clients.len() {
            if self.clients[index].closed {
                continue;
            }
            self.clients[index].reading = true;
            self.socket(index).set_reading(true);
            self.report_writable(index);
            // One driver-sized read at a time, until all is read or the
            // router stops reading.
            while !self.clients[index].eof
                && self.clients[index].stream.unread_len() > 0
                && self.routers[self.clients[index].router].wants_read(self.clients[index].conn)
            {
                self.deliver_to(index, self.max_read);
            }
        }
    }

    /// Lets every router do all it wants by now: due timeouts, closes,
    /// writes to its clients, a batch to each peer.
    pub(super) fn drive(&mut self) {
        for r in 0..self.routers.len() {
            self.drive_router(r);
        }
    }

    fn drive_router(&mut self, r: usize) {
        for _ in 0..MAX_DRIVE_ROUNDS {
            let Cluster {
                routers,
                networks,
                links,
                now,
                ..
            } = self;
            let mut io = RouterIo {
                network: &mut networks[r],
                links,
                from: r,
                max_batch_bytes: routers[r].config().max_batch_bytes,
            };
            let next = routers[r].drive(*now, &mut io);
            for (conn, received) in self.networks[r].take_all_received() {
                let index = client_index(&self.clients, r, conn);
                self.receive(index, &received);
            }
            for told in self.networks[r].take_told() {
                self.on_told(r, told);
            }
            if next.is_none_or(|at| at > self.now) {
                return;
            }
        }
        panic!("livelock: router {r} kept wanting to be driven at once");
    }

    fn on_told(&mut self, r: usize, told: Told) {
        match told {
            Told::Close(conn) => {
                let index = client_index(&self.clients, r, conn);
                let c = &mut self.clients[index];
                assert!(!c.closed, "{conn} closed twice");
                c.closed = true;
            }
            Told::ResumeReading(conn) => {
                assert!(
                    self.routers[r].wants_read(conn),
                    "{told:?} but not wants_read"
                );
            }
            Told::StopListening => panic!("router {r} stopped listening, unasked"),
        }
    }

    /// Client `index` received `bytes`: its ID, then payloads the oracle
    /// checks as each terminator arrives.
    fn receive(&mut self, index: usize, bytes: &[u8]) {
        let max_frame = self.routers[0].config().max_frame_bytes;
        let c = &mut self.clients[index];
        c.stream
            .receive(c.conn.id(), bytes, &mut self.oracle, max_frame);
    }

    fn pick(&self, index: u8) -> Option<usize> {
        self.nth_where(index, |c| !c.closed)
    }

    fn pick_sender(&self, index: u8) -> Option<usize> {
        self.nth_where(index, |c| !c.closed && !c.eof)
    }

    fn nth_where(&self, index: u8, keep: impl Fn(&Client) -> bool) -> Option<usize> {
        crate::pick::nth_where(&self.clients, index, keep)
    }
}

fn client_index(clients: &[Client], router: usize, conn: ConnHandle) -> usize {
    clients
        .iter()
        .rposition(|c| c.router == router && c.conn == conn)
        .unwrap_or_else(|| panic!("router {router} spoke of unknown {conn}"))
}

impl Client {
    fn new(router: usize, conn: ConnHandle) -> Client {
        Client {
            router,
            conn,
            stream: ClientStream::default(),
            reading: true,
            eof: false,
            closed: false,
        }
    }

    /// Whether the client has sent everything it queued.
    pub(super) fn idle(&self) -> bool {
        self.stream.unread_len() == 0
    }
}

/// One router's view of the world: its clients' sockets, and its links.
struct RouterIo<'a> {
    network: &'a mut Network,
    links: &'a mut [Link],
    from: usize,
    /// The link's bound on one batch, which no batch may exceed.
    max_batch_bytes: usize,
}

impl Io for RouterIo<'_> {
    fn write(&mut self, conn: ConnHandle, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        self.network.write(conn, slices)
    }

    fn close(&mut self, conn: ConnHandle) {
        self.network.close(conn);
    }

    fn resume_reading(&mut self, conn: ConnHandle) {
        self.network.resume_reading(conn);
    }

    fn stop_listening(&mut self) {
        self.network.stop_listening();
    }

    fn send_to_peer(&mut self, peer: PeerId, batch: &mut Vec<u8>) -> bool {
        let to = index_of_peer(peer);
        let link = self
            .links
            .iter_mut()
            .find(|l| l.from == self.from && l.to == to)
            .expect("a batch for a router of the cluster");
        assert!(!link.told_down, "a batch for a peer reported down");
        assert!(
            batch.len() <= self.max_batch_bytes,
            "a batch of {} bytes over max_batch_bytes {}",
            batch.len(),
            self.max_batch_bytes
        );
        if link.refusing {
            return false;
        }
        link.queue.push_back(std::mem::take(batch));
        true
    }
}
