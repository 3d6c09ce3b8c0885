//! A simulated world: one `Router`, many clients, a fake clock, and a driver
//! that checks the router's invariants after every step.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::time::{Duration, Instant};

use router_core::{
    AcceptError, CloseCause, Config, ConnHandle, Event, OverflowPolicy, Router, Stats,
};

use crate::ops::{Op, Target};
use crate::oracle::Oracle;
use crate::payload::{self, MIN_LEN, Stamp};

/// Most rounds of event and transmit draining one step may take before the
/// simulation calls it a livelock.
const MAX_DRIVE_ROUNDS: usize = 10_000;

/// The simulated world. Every method panics, with a message saying what broke,
/// as soon as the router breaks an invariant.
#[derive(Debug)]
pub struct Sim {
    router: Router,
    clients: Vec<Client>,
    now: Instant,
    oracle: Oracle,
    last_id: Option<u32>,
    shut_down: bool,
    drained: bool,
    /// Most bytes one [`Op::Deliver`] hands the router: the bound on what a
    /// paused sender may have buffered beyond one frame.
    max_read: usize,
}

#[derive(Debug)]
struct Client {
    conn: ConnHandle,
    /// Bytes written to the socket that the router has not read yet.
    unread: Vec<u8>,
    /// Tracked frames in `unread`: where each ends, and what it is.
    frames_in_flight: VecDeque<(usize, Stamp, u32)>,
    next_seq: u32,
    /// What the client has received: its ID first, then a partial payload.
    id_bytes: Vec<u8>,
    partial_payload: Vec<u8>,
    /// Bytes the client's receive window accepts now.
    window: usize,
    /// The client reads all it is sent, whatever its window.
    reading: bool,
    /// The router was told a write would block.
    write_blocked: bool,
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
            clients: Vec::new(),
            now: crate::epoch(),
            oracle: Oracle::default(),
            last_id: None,
            shut_down: false,
            drained: false,
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
            Op::Deliver { client, max } => self.deliver(client, usize::from(max).max(1)),
            Op::Read { client, bytes } => self.open_window(client, usize::from(bytes)),
            Op::ToggleReading { client } => self.toggle_reading(client),
            Op::Eof { client } => self.eof(client),
            Op::Reset { client } => self.reset(client),
            Op::Advance { millis } => self.advance(Duration::from_millis(u64::from(millis))),
            Op::Shutdown => {
                self.shut_down = true;
                self.router.shutdown(self.now);
            }
        }
        self.drive();
        self.check_closes_were_due(&before, &open_before);
        self.check_invariants();
    }

    /// No connection was closed as a slow consumer or as idle before its time:
    /// each such close must match a client whose clock had run out.
    fn check_closes_were_due(&self, before: &Stats, open_before: &[bool]) {
        let config = self.router.config();
        let stats = self.router.stats();
        let closed_now = || {
            self.clients
                .iter()
                .zip(open_before.iter().chain(std::iter::repeat(&true)))
                .filter(|(c, was_open)| c.closed && **was_open)
                .map(|(c, _)| c)
        };
        let stall_due = closed_now()
            .filter(|c| {
                c.stalled_since
                    .is_some_and(|since| since + config.write_stall_timeout <= self.now)
            })
            .count() as u64;
        let stall_closes =
            stats.closed(CloseCause::WriteStall) - before.closed(CloseCause::WriteStall);
        assert!(
            stall_closes <= stall_due,
            "{stall_closes} closed for write stall, {stall_due} due"
        );
        if let Some(idle) = config.idle_timeout {
            let idle_due = closed_now()
                .filter(|c| c.last_activity + idle <= self.now)
                .count() as u64;
            let idle_closes = stats.closed(CloseCause::Idle) - before.closed(CloseCause::Idle);
            assert!(
                idle_closes <= idle_due,
                "{idle_closes} closed as idle, {idle_due} due"
            );
        }
    }

    /// Lets every live client send all it queued and read all it is sent, then
    /// checks that nothing was lost that the counters do not account for, and
    /// that every pair of clients still connected got every frame.
    pub fn settle_and_check(&mut self) {
        for _ in 0..MAX_DRIVE_ROUNDS {
            let moved_before =
                self.router.stats().bytes_written + self.router.stats().received.bytes;
            for index in 0..self.clients.len() {
                let c = &mut self.clients[index];
                if !c.closed && c.write_blocked {
                    c.write_blocked = false;
                    self.router.handle_writable(c.conn);
                }
                c.reading = true;
                let c = &self.clients[index];
                if !c.closed && !c.eof && !c.unread.is_empty() {
                    let all = c.unread.len();
                    self.deliver_to(index, all);
                }
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

    fn connect(&mut self) {
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
        let stamp = Stamp {
            sender: c.conn.id(),
            seq: c.next_seq,
            len: u32::from(len).max(MIN_LEN as u32),
        };
        c.next_seq += 1;
        c.unread.extend_from_slice(&dest.to_be_bytes());
        c.unread.extend_from_slice(&payload::encode(stamp));
        c.unread.push(0);
        c.frames_in_flight.push_back((c.unread.len(), stamp, dest));
    }

    fn garbage(&mut self, from: u8, bytes: &[u8]) {
        let Some(index) = self.pick_sender(from) else {
            return;
        };
        self.oracle.record_garbage();
        let c = &mut self.clients[index];
        c.sent_garbage = true;
        c.unread.extend(
            bytes
                .iter()
                .map(|&b| if b == payload::MARKER { b - 1 } else { b }),
        );
    }

    fn deliver(&mut self, client: u8, max: usize) {
        if let Some(index) = self.pick_sender(client) {
            self.deliver_to(index, max.min(self.max_read));
        }
    }

    /// The router reads up to `max` bytes from client `index`, as a driver
    /// would: only while it wants to read that client.
    fn deliver_to(&mut self, index: usize, max: usize) {
        let conn = self.clients[index].conn;
        if !self.router.wants_read(conn) {
            return;
        }
        let c = &mut self.clients[index];
        let n = max.min(c.unread.len());
        if n == 0 {
            return;
        }
        let chunk: Vec<u8> = c.unread.drain(..n).collect();
        c.last_activity = self.now;
        let complete = c.frames_in_flight.partition_point(|&(end, _, _)| end <= n);
        let read_whole: Vec<_> = c.frames_in_flight.drain(..complete).collect();
        for (end, _, _) in &mut c.frames_in_flight {
            *end -= n;
        }
        for (_, stamp, dest) in read_whole {
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
        let c = &mut self.clients[index];
        if c.closed {
            return;
        }
        c.window = c.window.saturating_add(bytes);
        if c.write_blocked && (c.window > 0 || c.reading) {
            c.write_blocked = false;
            self.router.handle_writable(c.conn);
        }
    }

    fn toggle_reading(&mut self, client: u8) {
        let Some(index) = self.pick(client) else {
            return;
        };
        let c = &mut self.clients[index];
        c.reading = !c.reading;
        if c.reading {
            self.open_window(client, 0);
        }
    }

    fn eof(&mut self, client: u8) {
        let Some(index) = self.pick_sender(client) else {
            return;
        };
        let c = &mut self.clients[index];
        c.eof = true;
        c.unread.clear();
        c.frames_in_flight.clear();
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

    fn advance(&mut self, by: Duration) {
        self.now += by;
        if self.router.poll_timeout().is_some_and(|at| at <= self.now) {
            self.router.handle_timeout(self.now);
        }
    }

    fn run_clock_until_drained(&mut self) {
        for _ in 0..MAX_DRIVE_ROUNDS {
            if self.drained {
                return;
            }
            let at = self
                .router
                .poll_timeout()
                .expect("shutting down with connections left but no timer");
            self.now = self.now.max(at);
            self.router.handle_timeout(self.now);
            self.drive();
            self.check_invariants();
        }
        panic!("shutdown never drained");
    }

    /// Drains events and transmits until the router has nothing more to say,
    /// writing to each client as much as its window takes.
    fn drive(&mut self) {
        for _ in 0..MAX_DRIVE_ROUNDS {
            let mut busy = false;
            while let Some(event) = self.router.poll_event() {
                busy = true;
                self.on_event(event);
            }
            while let Some(transmit) = self.router.poll_transmit() {
                busy = true;
                let conn = transmit.conn;
                let index = index_of(&self.clients, conn);
                let c = &mut self.clients[index];
                assert!(!c.closed, "transmit offered for closed {conn}");
                assert!(
                    !c.write_blocked,
                    "transmit offered for {conn}, which would block"
                );
                let mut slices = [IoSlice::new(&[]); 64];
                let filled = transmit.io_slices(&mut slices);
                assert!(
                    filled > 0 && !transmit.is_empty(),
                    "empty transmit for {conn}"
                );
                let mut written = Vec::new();
                let window = if c.reading { usize::MAX } else { c.window };
                for slice in &slices[..filled] {
                    let room = window - written.len();
                    written.extend_from_slice(&slice[..slice.len().min(room)]);
                }
                if written.is_empty() {
                    c.write_blocked = true;
                    self.router.handle_write_blocked(conn);
                    continue;
                }
                c.window = c.window.saturating_sub(written.len());
                c.stalled_since = None;
                c.last_activity = self.now;
                self.receive(index, &written);
                self.router.handle_written(conn, written.len(), self.now);
            }
            // A real driver's poller returns at once for a deadline already due.
            if self.router.poll_timeout().is_some_and(|at| at <= self.now) {
                busy = true;
                self.router.handle_timeout(self.now);
            }
            if !busy {
                return;
            }
        }
        panic!("livelock: the router kept producing work for {MAX_DRIVE_ROUNDS} rounds");
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Close(conn) => {
                let index = index_of(&self.clients, conn);
                let c = &mut self.clients[index];
                assert!(!c.closed, "{conn} closed twice");
                c.closed = true;
            }
            Event::PauseReading(conn) | Event::ResumeReading(conn) => {
                let index = index_of(&self.clients, conn);
                assert!(!self.clients[index].closed, "{event:?} after close");
                if matches!(event, Event::ResumeReading(_)) {
                    // The idle clock does not run while the router holds a
                    // sender's input: it restarts on resume.
                    self.clients[index].last_activity = self.now;
                }
            }
            Event::Drained => {
                assert!(self.shut_down, "drained without shutdown");
                assert!(!self.drained, "drained twice");
                assert!(
                    self.live_clients().next().is_none(),
                    "drained with clients left"
                );
                self.drained = true;
            }
        }
    }

    /// Client `index` received `bytes`: its ID first, then payloads, each
    /// checked by the oracle as its terminator arrives.
    fn receive(&mut self, index: usize, mut bytes: &[u8]) {
        let max_frame = self.router.config().max_frame_bytes;
        let c = &mut self.clients[index];
        if c.id_bytes.len() < 4 {
            let take = (4 - c.id_bytes.len()).min(bytes.len());
            c.id_bytes.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if c.id_bytes.len() == 4 {
                assert_eq!(
                    c.id_bytes,
                    c.conn.id().to_be_bytes(),
                    "first 4 bytes are not the ID"
                );
            }
        }
        for &byte in bytes {
            if byte == 0 {
                let payload = std::mem::take(&mut c.partial_payload);
                if let Err(error) = self
                    .oracle
                    .check_delivered(c.conn.id(), &payload, max_frame)
                {
                    panic!("bad delivery: {error}");
                }
            } else {
                c.partial_payload.push(byte);
            }
        }
    }

    /// Checks that no client outlived its write-stall or idle deadline: the
    /// router must have closed it by now.
    fn check_deadlines(&mut self) {
        let config = self.router.config().clone();
        for c in self.clients.iter_mut().filter(|c| !c.closed) {
            let info = self.router.connection_info(c.conn).expect("live");
            if info.queued_bytes == 0 {
                c.stalled_since = None;
            } else {
                c.last_activity = self.now;
                let since = *c.stalled_since.get_or_insert(self.now);
                assert!(
                    self.now < since + config.write_stall_timeout,
                    "{} accepted nothing for write_stall_timeout but is still open",
                    c.conn
                );
            }
            if let Some(idle) = config.idle_timeout {
                let idle_now = info.queued_bytes == 0 && !info.paused && !info.closing;
                assert!(
                    !idle_now || self.now < c.last_activity + idle,
                    "{} idle for idle_timeout but still open: {info:?}, last activity {:?} ago, next timeout in {:?}",
                    c.conn,
                    self.now - c.last_activity,
                    self.router
                        .poll_timeout()
                        .map(|t| t.saturating_duration_since(self.now))
                );
            }
        }
    }

    fn check_invariants(&mut self) {
        self.check_deadlines();
        let config = self.router.config();
        let stats = self.router.stats();
        let queue_bound = config.outbound_high_water + config.max_frame_bytes + 1;
        let buffer_bound = config.max_frame_bytes + 4 + self.max_read;
        let (mut queued, mut paused, mut live) = (0, 0, 0);
        let (mut heap, mut unfinished) = (0, 0);
        for c in &self.clients {
            let info = self.router.connection_info(c.conn);
            if c.closed {
                assert!(info.is_none(), "{} closed but still known", c.conn);
                continue;
            }
            let info = info.unwrap_or_else(|| panic!("{} live but unknown to the router", c.conn));
            live += 1;
            queued += info.queued_bytes;
            paused += u64::from(info.paused);
            heap += info.heap_bytes;
            if !info.paused && !info.closing {
                unfinished += info.buffered_bytes;
            }
            assert!(
                info.queued_bytes <= queue_bound,
                "{} has {} bytes queued, over {queue_bound}",
                c.conn,
                info.queued_bytes
            );
            assert!(
                info.buffered_bytes <= buffer_bound,
                "{} has {} bytes buffered, over {buffer_bound}",
                c.conn,
                info.buffered_bytes
            );
            assert!(
                info.heap_bytes <= 2 * (queue_bound + buffer_bound) + 4096,
                "{} holds {} heap bytes",
                c.conn,
                info.heap_bytes
            );
        }
        assert_eq!(stats.connections_open, live, "connections_open");
        assert_eq!(stats.bytes_queued, queued as u64, "bytes_queued");
        // The budget counts what each connection holds, and over it nobody
        // keeps an unfinished frame (whole frames are never given up).
        assert_eq!(stats.bytes_buffered, heap as u64, "bytes_buffered");
        if heap > config.max_buffered_bytes {
            assert_eq!(unfinished, 0, "{heap} bytes held over the budget");
        }
        assert_eq!(stats.senders_paused, paused, "senders_paused");
        let accounted = self.oracle.delivered_frames() + stats.dropped_whole().frames;
        assert!(
            stats.received.frames >= accounted,
            "{} frames received but {accounted} delivered or dropped",
            stats.received.frames
        );
        if queued > 0 {
            let deadline = self
                .router
                .poll_timeout()
                .expect("bytes queued but no write-stall timer");
            assert!(
                deadline <= self.now + config.write_stall_timeout,
                "write-stall timer too late"
            );
        }
    }

    fn check_nothing_pending(&self) {
        for c in self.live_clients() {
            let info = self.router.connection_info(c.conn).expect("live");
            assert_eq!(
                info.queued_bytes, 0,
                "{} still has bytes queued after settling",
                c.conn
            );
            assert!(!info.paused, "{} still paused after settling", c.conn);
        }
    }

    /// Every whole frame the router read was delivered or counted as dropped.
    fn check_accounting(&self) {
        let stats = self.router.stats();
        assert_eq!(
            stats.received.frames,
            self.oracle.delivered_frames() + stats.dropped_whole().frames,
            "frames received = delivered + dropped whole; stats: {stats:?}"
        );
    }

    /// Between clients that are still connected, nothing was lost, except what
    /// the drop policy dropped (and counted). Senders of garbage are left out:
    /// their raw bytes may legitimately swallow the frames that follow.
    fn check_live_pairs_complete(&self) {
        let live = || self.live_clients().filter(|c| !c.eof);
        let senders: Vec<u32> = live()
            .filter(|c| !c.sent_garbage)
            .map(|c| c.conn.id())
            .collect();
        // A receiver the router is closing (shed to stay within
        // max_buffered_bytes) takes no new frame, like one that sent EOF.
        let closing = |c: &&Client| {
            self.router
                .connection_info(c.conn)
                .is_some_and(|info| info.closing)
        };
        let receivers: Vec<u32> = live()
            .filter(|c| !closing(c))
            .map(|c| c.conn.id())
            .collect();
        let missing: u64 = senders
            .iter()
            .flat_map(|&from| receivers.iter().map(move |&to| (from, to)))
            .map(|(from, to)| self.oracle.missing(from, to))
            .sum();
        let allowed = match self.router.config().overflow_policy {
            OverflowPolicy::Pause => 0,
            OverflowPolicy::Drop => {
                let stats = self.router.stats();
                stats
                    .dropped(router_core::DropCause::DestinationFull)
                    .frames
                    + stats.dropped(router_core::DropCause::MemoryBudget).frames
            }
        };
        assert!(
            missing <= allowed,
            "{missing} frames between live clients lost, {allowed} dropped by policy"
        );
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
        let count = self.clients.iter().filter(|c| keep(c)).count();
        if count == 0 {
            return None;
        }
        let wanted = usize::from(index) % count;
        self.clients
            .iter()
            .enumerate()
            .filter(|(_, c)| keep(c))
            .nth(wanted)
            .map(|(i, _)| i)
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
            unread: Vec::new(),
            frames_in_flight: VecDeque::new(),
            next_seq: 0,
            id_bytes: Vec::new(),
            partial_payload: Vec::new(),
            window: 0,
            reading: true,
            write_blocked: false,
            eof: false,
            sent_garbage: false,
            closed: false,
        }
    }
}
