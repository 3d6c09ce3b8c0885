//! A simulated world: one `Router`, many clients on the in-memory
//! [`Network`], and a fake clock. After every step, [`checks`] holds the
//! router to its invariants.

mod checks;

use std::time::{Duration, Instant};

use router_core::{AcceptError, Config, ConnHandle, Router};

use crate::network::{Network, Told};
use crate::ops::{Op, Target};
use crate::oracle::Oracle;
use crate::stream::ClientStream;

/// Most rounds of settling (clients send and read all, the router is driven)
/// before the simulation calls it a livelock.
const MAX_SETTLE_ROUNDS: usize = 10_000;

/// The simulated world. Every method panics, with a message saying what broke,
/// as soon as the router breaks an invariant.
#[derive(Debug)]
pub struct Sim {
    router: Router,
    network: Network,
    clients: Vec<Client>,
    now: Instant,
    oracle: Oracle,
    last_id: Option<u32>,
    shut_down: bool,
    /// Clients waiting in the listener's backlog while accepting is paused.
    backlog: usize,
    /// Accept failures the sim caused: (all, listener failures).
    accept_failures: (u64, u64),
    /// Most bytes one [`Op::RouterReads`] hands the router: the bound on what a
    /// paused sender may have buffered beyond one frame.
    max_read: usize,
}

#[derive(Debug)]
struct Client {
    conn: ConnHandle,
    /// What it wrote and the router has not read, and what it received.
    stream: ClientStream,
    /// The client reads all it is sent, whatever its window.
    reading: bool,
    /// The client sent EOF.
    eof: bool,
    /// The client sent raw bytes, which may swallow its tracked frames.
    sent_garbage: bool,
    /// The router emitted `Close` for it.
    closed: bool,
    /// Since when bytes have been queued to it without any being written: the
    /// write-stall clock.
    stalled_since: Option<Instant>,
    /// When it last sent bytes, had bytes written to it, or had bytes queued:
    /// the idle clock.
    last_activity: Instant,
}

impl Sim {
    /// A world with no clients, around a router with `config`.
    pub fn new(config: Config) -> Sim {
        Sim {
            router: Router::new(config).expect("simulation config must be valid"),
            network: Network::new(),
            clients: Vec::new(),
            now: crate::epoch(),
            oracle: Oracle::default(),
            last_id: None,
            shut_down: false,
            backlog: 0,
            accept_failures: (0, 0),
            max_read: usize::from(u16::MAX),
        }
    }

    /// The router under test.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Applies `op`, lets the router do all it wants, and checks every invariant.
    pub fn apply(&mut self, op: &Op) {
        let before = self.router.stats().clone();
        let open_before: Vec<bool> = self.clients.iter().map(|c| !c.closed).collect();
        match *op {
            Op::Connect => self.connect(),
            Op::Send { from, to, len } => self.send(from, to, len),
            Op::Garbage { from, ref bytes } => self.garbage(from, bytes),
            Op::RouterReads { client, max } => self.router_reads(client, usize::from(max).max(1)),
            Op::Read { client, bytes } => self.open_window(client, usize::from(bytes)),
            Op::ToggleReading { client } => self.toggle_reading(client),
            Op::Eof { client } => self.eof(client),
            Op::Reset { client } => self.reset(client),
            Op::Advance { millis } => self.now += Duration::from_millis(u64::from(millis)),
            Op::Shutdown => {
                self.shut_down = true;
                self.router.shutdown(self.now);
            }
            Op::AcceptFails { out_of_descriptors } => self.accept_fails(out_of_descriptors),
        }
        self.drive();
        self.accept_backlog();
        self.check_closes_were_due(&before, &open_before);
        self.check_invariants();
    }

    /// Lets every live client send all it queued and read all it is sent, then
    /// checks that nothing was lost that the counters do not account for, and
    /// that every pair of clients still connected got every frame.
    pub fn settle_and_check(&mut self) {
        for _ in 0..MAX_SETTLE_ROUNDS {
            let moved_before =
                self.router.stats().bytes_written + self.router.stats().received.bytes;
            for index in 0..self.clients.len() {
                let c = &mut self.clients[index];
                if c.closed {
                    continue;
                }
                c.reading = true;
                let conn = c.conn;
                self.network.socket(conn).set_reading(true);
                if self.network.socket(conn).unblock() {
                    self.router.handle_writable(conn);
                }
                self.router_reads_all_it_will(index);
            }
            self.drive();
            self.check_invariants();
            let moved = self.router.stats().bytes_written + self.router.stats().received.bytes;
            if moved == moved_before {
                break;
            }
        }
        if self.shut_down {
            self.run_clock_until_drained();
        }
        self.check_nothing_pending();
        self.check_accounting();
        if !self.shut_down {
            self.check_live_pairs_complete();
        }
    }

    /// A client connects: accepted at once, or left in the backlog while the
    /// router does not want to accept, as a driver would leave it.
    fn connect(&mut self) {
        if self.shut_down && !self.network.is_listening() {
            return; // The listener is closed: the kernel refuses the client.
        }
        if !self.router.wants_accept() {
            self.backlog += 1;
            return;
        }
        self.accept();
    }

    /// Accepts the clients waiting in the backlog once accepting resumed.
    fn accept_backlog(&mut self) {
        while self.backlog > 0 && self.router.wants_accept() {
            self.backlog -= 1;
            self.accept();
            self.drive();
        }
    }

    fn accept_fails(&mut self, out_of_descriptors: bool) {
        if !self.router.wants_accept() {
            return; // A driver does not call `accept` while paused.
        }
        let error = if out_of_descriptors {
            std::io::Error::from_raw_os_error(24)
        } else {
            std::io::ErrorKind::ConnectionAborted.into()
        };
        let before = self.router.stats().clone();
        self.router.handle_accept_error(&error, self.now);
        let stats = self.router.stats();
        self.accept_failures.0 += 1;
        assert_eq!(
            stats.accept_errors,
            before.accept_errors + 1,
            "accept error not counted"
        );
        if out_of_descriptors {
            self.accept_failures.1 += 1;
            assert!(
                !self.router.wants_accept(),
                "accepting goes on out of descriptors"
            );
            let resume = self.now + self.router.config().accept_pause;
            assert_eq!(
                self.router.poll_timeout().map(|at| at <= resume),
                Some(true),
                "no wake-up to resume accepting"
            );
        } else {
            assert!(
                self.router.wants_accept(),
                "one client's failure paused accepting"
            );
        }
        assert_eq!(
            (stats.accept_errors, stats.accept_pauses),
            self.accept_failures,
            "accept failures miscounted"
        );
    }

    fn accept(&mut self) {
        let expect_refusal =
            self.shut_down || self.live_clients().count() >= self.router.config().max_connections;
        match self.router.handle_accept(self.now) {
            Ok(conn) => {
                assert!(
                    !expect_refusal,
                    "accepted {conn} past the limit or after shutdown"
                );
                assert!(
                    self.live_clients().all(|c| c.conn != conn),
                    "ID {conn} handed out while live"
                );
                if let Some(last) = self.last_id {
                    let layout_free =
                        self.router.config().id_layout == router_core::IdLayout::SINGLE;
                    if layout_free {
                        assert_eq!(conn.id(), last.wrapping_add(1), "IDs not in sequence");
                    }
                }
                self.last_id = Some(conn.id());
                self.network.connect(conn);
                self.clients.push(Client::new(conn, self.now));
            }
            Err(AcceptError::ShuttingDown) => {
                assert!(self.shut_down, "refused while not shutting down")
            }
            Err(AcceptError::ConnectionLimit(_)) => {
                assert!(expect_refusal, "refused below the connection limit")
            }
        }
    }

    fn send(&mut self, from: u8, to: Target, len: u16) {
        let dest = match to {
            Target::Raw(id) => id,
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

    fn garbage(&mut self, from: u8, bytes: &[u8]) {
        let Some(index) = self.pick_sender(from) else {
            return;
        };
        self.oracle.record_garbage();
        let c = &mut self.clients[index];
        c.sent_garbage = true;
        c.stream.write_raw(bytes);
    }

    fn router_reads(&mut self, client: u8, max: usize) {
        if let Some(index) = self.pick_sender(client) {
            self.router_reads_from(index, max);
        }
    }

    /// The router reads client `index` until it has read everything the
    /// client sent or no longer wants to read it, one driver-sized read at a
    /// time.
    fn router_reads_all_it_will(&mut self, index: usize) {
        while !self.clients[index].eof
            && self.clients[index].stream.unread_len() > 0
            && self.router.wants_read(self.clients[index].conn)
        {
            self.router_reads_from(index, self.max_read);
        }
    }

    /// The router reads up to `max` bytes from client `index`, as a driver
    /// would: only while it wants to read that client, and no more than a
    /// driver's read buffer holds (`max_read`), which the buffer bound
    /// checked after every step assumes.
    fn router_reads_from(&mut self, index: usize, max: usize) {
        let conn = self.clients[index].conn;
        if !self.router.wants_read(conn) {
            return;
        }
        let max = max.min(self.max_read);
        let c = &mut self.clients[index];
        if max == 0 || c.stream.unread_len() == 0 {
            return;
        }
        let (chunk, read_whole) = c.stream.read(max);
        c.last_activity = self.now;
        for (stamp, dest) in read_whole {
            // A client past its EOF is closing: frames to it are dropped.
            let open = self.live_clients().any(|c| c.conn.id() == dest && !c.eof);
            self.oracle.record_sent(stamp, dest, open);
        }
        self.router.handle_input(conn, &chunk, self.now);
    }

    fn open_window(&mut self, client: u8, bytes: usize) {
        let Some(index) = self.pick(client) else {
            return;
        };
        let socket = self.network.socket(self.clients[index].conn);
        socket.open_window(bytes);
        self.report_writable(index);
    }

    fn toggle_reading(&mut self, client: u8) {
        let Some(index) = self.pick(client) else {
            return;
        };
        let c = &mut self.clients[index];
        c.reading = !c.reading;
        self.network.socket(c.conn).set_reading(c.reading);
        self.report_writable(index);
    }

    /// A driver's readiness event: client `index`'s socket, which said
    /// `WouldBlock`, takes bytes again.
    fn report_writable(&mut self, index: usize) {
        let conn = self.clients[index].conn;
        let socket = self.network.socket(conn);
        if socket.can_take() && socket.unblock() {
            self.router.handle_writable(conn);
        }
    }

    fn eof(&mut self, client: u8) {
        let Some(index) = self.pick_sender(client) else {
            return;
        };
        let c = &mut self.clients[index];
        c.eof = true;
        c.stream.abandon_unread();
        self.router.handle_eof(c.conn, self.now);
    }

    fn reset(&mut self, client: u8) {
        let Some(index) = self.pick(client) else {
            return;
        };
        let c = &self.clients[index];
        if !c.closed {
            self.router.handle_reset(c.conn, self.now);
        }
    }

    fn run_clock_until_drained(&mut self) {
        for _ in 0..MAX_SETTLE_ROUNDS {
            if self.router.is_drained() {
                return;
            }
            let at = self
                .router
                .poll_timeout()
                .expect("shutting down with connections left but no timer");
            self.now = self.now.max(at);
            self.drive();
            self.check_invariants();
        }
        panic!("shutdown never drained");
    }

    /// Lets the router do all it wants through the network, then hands what
    /// each client received to the oracle and applies what the router told
    /// the driver.
    fn drive(&mut self) {
        self.router.drive(self.now, &mut self.network);
        for (conn, received) in self.network.take_all_received() {
            let index = index_of(&self.clients, conn);
            let c = &mut self.clients[index];
            c.stalled_since = None;
            c.last_activity = self.now;
            self.receive(index, &received);
        }
        for told in self.network.take_told() {
            self.on_told(told);
        }
        if self.router.is_drained() {
            assert!(self.shut_down, "drained without shutdown");
            assert!(
                self.live_clients().next().is_none(),
                "drained with clients left"
            );
        }
    }

    fn on_told(&mut self, told: Told) {
        match told {
            Told::Close(conn) => {
                let index = index_of(&self.clients, conn);
                self.clients[index].closed = true;
            }
            Told::ResumeReading(conn) => {
                // Closed since in the same drive (a write failed, its stall
                // timed out, the budget shed it) is fine: its close was told
                // too, and the network checks it was told once.
                let closed = self.router.connection_info(conn).is_none();
                assert!(
                    self.router.wants_read(conn) || closed,
                    "{told:?} but not wants_read"
                );
                // The idle clock does not run while the router holds a
                // sender's input: it restarts on resume.
                let index = index_of(&self.clients, conn);
                self.clients[index].last_activity = self.now;
            }
            Told::StopListening => assert!(self.shut_down, "stopped listening before shutdown"),
        }
    }

    /// Client `index` received `bytes`: its ID first, then payloads, each
    /// checked by the oracle as its terminator arrives.
    fn receive(&mut self, index: usize, bytes: &[u8]) {
        let max_frame = self.router.config().max_frame_bytes;
        let c = &mut self.clients[index];
        c.stream
            .receive(c.conn.id(), bytes, &mut self.oracle, max_frame);
    }

    fn live_clients(&self) -> impl Iterator<Item = &Client> {
        self.clients.iter().filter(|c| !c.closed)
    }

    /// The connected client an operation names, if any.
    fn pick(&self, index: u8) -> Option<usize> {
        self.nth_where(index, |c| !c.closed)
    }

    /// The client an operation names among those that can still send.
    fn pick_sender(&self, index: u8) -> Option<usize> {
        self.nth_where(index, |c| !c.closed && !c.eof)
    }

    fn nth_where(&self, index: u8, keep: impl Fn(&Client) -> bool) -> Option<usize> {
        crate::pick::nth_where(&self.clients, index, keep)
    }
}

fn index_of(clients: &[Client], conn: ConnHandle) -> usize {
    clients
        .iter()
        .rposition(|c| c.conn == conn)
        .unwrap_or_else(|| panic!("event for unknown {conn}"))
}

impl Client {
    fn new(conn: ConnHandle, now: Instant) -> Client {
        Client {
            stalled_since: None,
            last_activity: now,
            conn,
            stream: ClientStream::default(),
            reading: true,
            eof: false,
            sent_garbage: false,
            closed: false,
        }
    }
}
