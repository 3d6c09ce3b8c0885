//! The behaviour tests' view of one router on the simulator's in-memory
//! network ([`router_sim::Network`], the same driver the seeded simulation
//! uses), with a clock that moves only when a test says so.
//!
//! Each call feeds the router one input and drives it, as a driver's loop
//! would, returning what the router told the driver on the way; the network
//! checks what must hold of any driver's view of the router, whatever the
//! test.

use std::time::{Duration, Instant};

use router_core::{AcceptError, Config, ConnHandle, Router};
use router_sim::Network;
pub(crate) use router_sim::Told;

/// A router and the clients connected to it.
pub(crate) struct Net {
    /// The router under test, for the assertions that look at it directly.
    pub(crate) router: Router,
    /// The current time; every call into the router passes it.
    pub(crate) now: Instant,
    network: Network,
    /// Everything each client received, its ID included.
    received: std::collections::HashMap<ConnHandle, Vec<u8>>,
}

impl Net {
    /// A router with `config`, no connection yet, at the clock's arbitrary
    /// origin ([`router_sim::epoch`]).
    pub(crate) fn new(config: Config) -> Self {
        Net {
            router: Router::new(config).expect("valid test config"),
            now: router_sim::epoch(),
            network: Network::new(),
            received: Default::default(),
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
        self.accept_with(|_| {})
    }

    /// Accepts a connection whose socket takes nothing yet, not even the ID.
    pub(crate) fn accept_blocked(&mut self) -> ConnHandle {
        self.accept_with(|socket| socket.allow(0))
            .expect("accepted")
    }

    fn accept_with(
        &mut self,
        shape: impl FnOnce(&mut router_sim::Socket),
    ) -> Result<ConnHandle, AcceptError> {
        let conn = self.router.handle_accept(self.now)?;
        self.network.connect(conn);
        shape(self.network.socket(conn));
        self.received.insert(conn, Vec::new());
        self.drive();
        Ok(conn)
    }

    /// Feeds `bytes` as one read from `from`, then drives.
    pub(crate) fn input(&mut self, from: ConnHandle, bytes: &[u8]) -> Vec<Told> {
        self.router.handle_input(from, bytes, self.now);
        self.drive()
    }

    /// Sends one frame from `from` to `to` in one read.
    pub(crate) fn send(&mut self, from: ConnHandle, to: ConnHandle, payload: &[u8]) -> Vec<Told> {
        self.input(from, &frame(to, payload))
    }

    /// `conn`'s client closed its side.
    pub(crate) fn eof(&mut self, conn: ConnHandle) -> Vec<Told> {
        self.router.handle_eof(conn, self.now);
        self.drive()
    }

    /// `conn`'s socket failed.
    pub(crate) fn reset(&mut self, conn: ConnHandle) -> Vec<Told> {
        self.router.handle_reset(conn, self.now);
        self.drive()
    }

    /// From now on `conn`'s socket accepts nothing: writes return `WouldBlock`.
    pub(crate) fn block(&mut self, conn: ConnHandle) {
        self.network.socket(conn).allow(0);
    }

    /// `conn`'s socket accepts `bytes` more bytes, then blocks again; it
    /// reports writable and the router is driven.
    pub(crate) fn allow(&mut self, conn: ConnHandle, bytes: usize) -> Vec<Told> {
        self.network.socket(conn).allow(bytes);
        self.writable(conn)
    }

    /// `conn`'s socket accepts everything again; it reports writable and the
    /// router is driven.
    pub(crate) fn unblock(&mut self, conn: ConnHandle) -> Vec<Told> {
        self.network.socket(conn).set_reading(true);
        self.writable(conn)
    }

    fn writable(&mut self, conn: ConnHandle) -> Vec<Told> {
        self.network.socket(conn).unblock();
        self.router.handle_writable(conn);
        self.drive()
    }

    /// Every write to `conn` takes at most `bytes` bytes.
    pub(crate) fn limit_writes(&mut self, conn: ConnHandle, bytes: usize) {
        self.network.socket(conn).limit_writes(bytes);
    }

    /// What `conn` has received so far.
    pub(crate) fn received(&self, conn: ConnHandle) -> &[u8] {
        &self.received[&conn]
    }

    /// What `conn` has received so far, which the next call will not repeat.
    pub(crate) fn take_received(&mut self, conn: ConnHandle) -> Vec<u8> {
        std::mem::take(self.received.get_mut(&conn).expect("accepted"))
    }

    /// Whether the router has closed `conn`.
    pub(crate) fn is_closed(&self, conn: ConnHandle) -> bool {
        self.network.is_closed(conn)
    }

    /// Whether the router has told the driver to close its listener.
    pub(crate) fn is_listening(&self) -> bool {
        self.network.is_listening()
    }

    /// Moves the clock on without telling the router.
    pub(crate) fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    /// Moves the clock on, then drives the router as a driver whose timer
    /// fired would.
    pub(crate) fn tick(&mut self, by: Duration) -> Vec<Told> {
        self.advance(by);
        self.drive()
    }

    /// Lets the router do all it wants now, and returns what it told the
    /// driver, in order. A closed connection's socket is gone: what it
    /// received stays readable here.
    pub(crate) fn drive(&mut self) -> Vec<Told> {
        self.router.drive(self.now, &mut self.network);
        let told = self.network.take_told();
        for (conn, received) in self.network.take_all_received() {
            self.received.entry(conn).or_default().extend(received);
        }
        for told in &told {
            if let Told::Close(conn) = told {
                assert_eq!(self.router.connection_info(*conn), None);
            }
        }
        told
    }
}

/// The wire bytes of a frame to `dest`.
pub(crate) fn frame(dest: ConnHandle, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    router_client::encode_frame(dest.id(), payload, &mut bytes).expect("a payload holds no 0x00");
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
