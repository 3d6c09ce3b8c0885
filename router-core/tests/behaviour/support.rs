//! A tiny in-memory driver: each client is a byte vector that collects what the
//! router writes to it, with a socket whose writes can be made partial or
//! blocked, and a clock that moves only when a test says so.
//!
//! [`Net::drive`] is a driver loop's turn, done as the crate doc prescribes:
//! drain every event, then every transmit (with one "vectored write" each),
//! until both are empty. On the way it checks what must hold of any driver's
//! view of the router, whatever the test: `Close` exactly once per accepted
//! connection and nothing for it afterwards, `PauseReading` and
//! `ResumeReading` alternating, transmits only for open connections, and no
//! livelock.

use std::collections::HashMap;
use std::io::IoSlice;
use std::time::{Duration, Instant};

use router_core::{AcceptError, Config, ConnHandle, Event, Router};

/// More steps than any test needs: reaching it means the router keeps
/// offering work that never ends.
const MAX_STEPS_PER_DRIVE: usize = 1_000_000;

/// A router and the clients connected to it.
pub(crate) struct Net {
    /// The router under test, for the assertions that look at it directly.
    pub(crate) router: Router,
    /// The current time; every call into the router passes it.
    pub(crate) now: Instant,
    clients: HashMap<ConnHandle, Client>,
}

/// One client, as its socket sees it.
#[derive(Debug, Default)]
struct Client {
    /// Everything written to it, in order, its ID included.
    received: Vec<u8>,
    /// Bytes its socket accepts before writes return `WouldBlock`; `None`
    /// for no limit.
    budget: Option<usize>,
    /// Most bytes one write takes, to make every write partial.
    max_write: Option<usize>,
    /// The router has told the driver to stop reading it.
    paused: bool,
    /// The router has emitted `Close` for it.
    closed: bool,
}

impl Net {
    /// A router with `config`, no connection yet, at the clock's arbitrary
    /// origin ([`router_sim::epoch`]).
    pub(crate) fn new(config: Config) -> Self {
        Net {
            router: Router::new(config).expect("valid test config"),
            now: router_sim::epoch(),
            clients: HashMap::new(),
        }
    }

    /// Accepts a connection, writes its ID, checks the ID is all it got, and
    /// forgets those 4 bytes so that tests see only frames.
    pub(crate) fn connect(&mut self) -> ConnHandle {
        let conn = self.accept().expect("accepted");
        assert_eq!(self.take_received(conn), conn.id().to_be_bytes());
        conn
    }

    /// Accepts a connection and drives the router (which writes its ID).
    pub(crate) fn accept(&mut self) -> Result<ConnHandle, AcceptError> {
        self.accept_with_budget(None)
    }

    /// Accepts a connection whose socket takes nothing yet, not even the ID.
    pub(crate) fn accept_blocked(&mut self) -> ConnHandle {
        self.accept_with_budget(Some(0)).expect("accepted")
    }

    fn accept_with_budget(&mut self, budget: Option<usize>) -> Result<ConnHandle, AcceptError> {
        let conn = self.router.handle_accept(self.now)?;
        let previous = self.clients.insert(
            conn,
            Client {
                budget,
                ..Client::default()
            },
        );
        assert!(
            previous.is_none_or(|c| c.closed),
            "{conn} handed out while still open"
        );
        self.drive();
        Ok(conn)
    }

    /// Feeds `bytes` as one read from `from`, then drives.
    pub(crate) fn input(&mut self, from: ConnHandle, bytes: &[u8]) -> Vec<Event> {
        self.router.handle_input(from, bytes, self.now);
        self.drive()
    }

    /// Sends one frame from `from` to `to` in one read.
    pub(crate) fn send(&mut self, from: ConnHandle, to: ConnHandle, payload: &[u8]) -> Vec<Event> {
        self.input(from, &frame(to, payload))
    }

    /// `conn`'s client closed its side.
    pub(crate) fn eof(&mut self, conn: ConnHandle) -> Vec<Event> {
        self.router.handle_eof(conn, self.now);
        self.drive()
    }

    /// `conn`'s socket failed.
    pub(crate) fn reset(&mut self, conn: ConnHandle) -> Vec<Event> {
        self.router.handle_reset(conn, self.now);
        self.drive()
    }

    /// From now on `conn`'s socket accepts nothing: writes return `WouldBlock`.
    pub(crate) fn block(&mut self, conn: ConnHandle) {
        self.client(conn).budget = Some(0);
    }

    /// `conn`'s socket accepts `bytes` more bytes, then blocks again; it
    /// reports writable and the router is driven.
    pub(crate) fn allow(&mut self, conn: ConnHandle, bytes: usize) -> Vec<Event> {
        self.client(conn).budget = Some(bytes);
        self.router.handle_writable(conn);
        self.drive()
    }

    /// `conn`'s socket accepts everything again; it reports writable and the
    /// router is driven.
    pub(crate) fn unblock(&mut self, conn: ConnHandle) -> Vec<Event> {
        self.client(conn).budget = None;
        self.router.handle_writable(conn);
        self.drive()
    }

    /// Every write to `conn` takes at most `bytes` bytes.
    pub(crate) fn limit_writes(&mut self, conn: ConnHandle, bytes: usize) {
        assert!(bytes > 0, "a write of 0 bytes is `WouldBlock`: use `block`");
        self.client(conn).max_write = Some(bytes);
    }

    /// What `conn` has received so far.
    pub(crate) fn received(&self, conn: ConnHandle) -> &[u8] {
        &self.clients[&conn].received
    }

    /// What `conn` has received so far, which the next call will not repeat.
    pub(crate) fn take_received(&mut self, conn: ConnHandle) -> Vec<u8> {
        std::mem::take(&mut self.client(conn).received)
    }

    /// Whether the router has emitted `Close` for `conn`.
    pub(crate) fn is_closed(&self, conn: ConnHandle) -> bool {
        self.clients[&conn].closed
    }

    /// Moves the clock on without telling the router.
    pub(crate) fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    /// Moves the clock on, then calls `handle_timeout` as a driver whose timer
    /// fired would, and drives.
    pub(crate) fn tick(&mut self, by: Duration) -> Vec<Event> {
        self.advance(by);
        self.router.handle_timeout(self.now);
        self.drive()
    }

    /// Drains events and transmits until the router has nothing left to say,
    /// writing as each client's socket allows. Returns the events, in order.
    pub(crate) fn drive(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        for _ in 0..MAX_STEPS_PER_DRIVE {
            while let Some(event) = self.router.poll_event() {
                self.observe(event);
                events.push(event);
            }
            let Some((conn, offered)) = self.router.poll_transmit().map(|transmit| {
                let mut slices = [IoSlice::new(&[]); 64];
                let filled = transmit.io_slices(&mut slices);
                assert!(filled > 0, "a transmit offers bytes");
                // The slices cover a prefix of the queue (all of it unless
                // it holds more than 64 chunks): one vectored write's worth.
                let offered: Vec<u8> = slices[..filled]
                    .iter()
                    .flat_map(|slice| slice.iter().copied())
                    .collect();
                assert!(offered.len() <= transmit.len());
                (transmit.conn, offered)
            }) else {
                return events;
            };
            self.write(conn, &offered);
        }
        panic!("the router kept offering work for {MAX_STEPS_PER_DRIVE} steps: livelock");
    }

    /// One vectored write of `offered` to `conn`'s socket, reported back.
    fn write(&mut self, conn: ConnHandle, offered: &[u8]) {
        let client = self
            .clients
            .get_mut(&conn)
            .unwrap_or_else(|| panic!("transmit for {conn}, never accepted"));
        assert!(!client.closed, "transmit for {conn} after its Close");
        let mut take = offered.len();
        if let Some(max) = client.max_write {
            take = take.min(max);
        }
        if let Some(budget) = client.budget.as_mut() {
            take = take.min(*budget);
            *budget -= take;
        }
        if take == 0 {
            self.router.handle_write_blocked(conn);
        } else {
            client.received.extend_from_slice(&offered[..take]);
            self.router.handle_written(conn, take, self.now);
        }
    }

    /// Updates the driver's view of `event`'s connection, checking that the
    /// router's events make sense in order.
    fn observe(&mut self, event: Event) {
        match event {
            Event::PauseReading(conn) => {
                let client = self.open_client(conn, event);
                assert!(!client.paused, "{event:?} while already paused");
                assert!(!self.router.wants_read(conn), "{event:?} but wants_read");
                self.client(conn).paused = true;
            }
            Event::ResumeReading(conn) => {
                let client = self.open_client(conn, event);
                assert!(client.paused, "{event:?} while not paused");
                self.client(conn).paused = false;
            }
            Event::Close(conn) => {
                self.open_client(conn, event);
                assert_eq!(self.router.connection_info(conn), None);
                self.client(conn).closed = true;
            }
            Event::Drained => {
                assert!(self.router.is_drained(), "Drained before drained");
                assert!(self.clients.values().all(|c| c.closed));
            }
        }
    }

    fn open_client(&self, conn: ConnHandle, event: Event) -> &Client {
        let client = self
            .clients
            .get(&conn)
            .unwrap_or_else(|| panic!("{event:?} for {conn}, never accepted"));
        assert!(!client.closed, "{event:?} after Close");
        client
    }

    fn client(&mut self, conn: ConnHandle) -> &mut Client {
        self.clients
            .get_mut(&conn)
            .unwrap_or_else(|| panic!("no client {conn}"))
    }
}

/// The wire bytes of a frame to `dest`.
pub(crate) fn frame(dest: ConnHandle, payload: &[u8]) -> Vec<u8> {
    assert!(!payload.contains(&0), "a payload holds no 0x00");
    let mut bytes = dest.id().to_be_bytes().to_vec();
    bytes.extend_from_slice(payload);
    bytes.push(0);
    bytes
}

/// The payloads, terminators stripped, of a stream of delivered frames. A
/// trailing partial payload would be a bug, so it fails the test.
pub(crate) fn payloads(delivered: &[u8]) -> Vec<Vec<u8>> {
    assert!(
        delivered.is_empty() || delivered.ends_with(&[0]),
        "delivered bytes end mid-frame: {delivered:?}"
    );
    delivered
        .split_inclusive(|&b| b == 0)
        .map(|f| f[..f.len() - 1].to_vec())
        .collect()
}

/// A distinct, recognisable payload: `tag`, then filler letters up to `len`.
pub(crate) fn payload(tag: &str, len: usize) -> Vec<u8> {
    let mut bytes = tag.as_bytes().to_vec();
    assert!(bytes.len() <= len, "{tag} is longer than {len}");
    bytes.extend((bytes.len()..len).map(|i| b'a' + (i % 26) as u8));
    bytes
}

/// Shorthand for the durations tests use.
pub(crate) fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}
