//! The in-memory network: every client's socket as the router's [`Io`] sees
//! it, with a receive window that can be opened, narrowed or shut, and a
//! record of what the router told the driver.
//!
//! It is the one test driver of `router-core`: the seeded [`Sim`](crate::Sim)
//! and the core's behaviour tests both drive the router through it, the way
//! quinn-proto's tests share one `Pair`. On the way it checks what must hold
//! of any driver's view of the router, whatever the test: a close exactly
//! once per accepted connection and nothing for it afterwards, writes only to
//! open sockets that have not said `WouldBlock`, a resume only for an open
//! connection the router wants read, the listener closed once, and no
//! livelock.

use std::collections::HashMap;
use std::io::{self, IoSlice};

use router_core::{ConnHandle, Io, PeerId};

/// More writes than one [`Router::drive`](router_core::Router::drive) ever
/// needs: reaching it means the router keeps offering work that never ends.
const MAX_WRITES_PER_DRIVE: usize = 1_000_000;

/// What the router told the driver through [`Io`], other than writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Told {
    /// [`Io::close`].
    Close(ConnHandle),
    /// [`Io::resume_reading`].
    ResumeReading(ConnHandle),
    /// [`Io::stop_listening`].
    StopListening,
}

/// Every client's socket, keyed by the handle the router gave it.
#[derive(Debug, Default)]
pub struct Network {
    sockets: HashMap<ConnHandle, Socket>,
    /// Sockets written to since the last [`take_all_received`], each once,
    /// so that collecting what was written costs what was written, however
    /// many sockets sit idle.
    ///
    /// [`take_all_received`]: Network::take_all_received
    written_to: Vec<ConnHandle>,
    told: Vec<Told>,
    listening: bool,
    writes_this_drive: usize,
}

/// One client's socket.
#[derive(Debug, Default)]
pub struct Socket {
    /// What the router wrote to it and the client has not yet taken.
    received: Vec<u8>,
    /// The client reads all it is sent, whatever its window.
    reading: bool,
    /// Bytes the client's receive window takes while it is not reading.
    window: usize,
    /// Most bytes one write takes, to make writes partial.
    max_write: Option<usize>,
    /// The last write said `WouldBlock`, and the router has not been told
    /// the socket is writable since.
    blocked: bool,
    /// The router closed it.
    closed: bool,
}

impl Network {
    /// A network with a listener and no client yet.
    pub fn new() -> Network {
        Network {
            listening: true,
            ..Network::default()
        }
    }

    /// A client was accepted as `conn`, reading everything it is sent.
    /// Panics if `conn` is an open connection's handle.
    pub fn connect(&mut self, conn: ConnHandle) {
        let previous = self.sockets.insert(
            conn,
            Socket {
                reading: true,
                ..Socket::default()
            },
        );
        assert!(
            previous.is_none_or(|socket| socket.closed),
            "{conn} handed out while still open"
        );
    }

    /// Whether the router has not yet told the driver to close the listener.
    pub fn is_listening(&self) -> bool {
        self.listening
    }

    /// `conn`'s socket, to shape its window.
    pub fn socket(&mut self, conn: ConnHandle) -> &mut Socket {
        self.sockets
            .get_mut(&conn)
            .unwrap_or_else(|| panic!("no client {conn}"))
    }

    /// Whether the router has closed `conn`.
    pub fn is_closed(&self, conn: ConnHandle) -> bool {
        self.sockets[&conn].closed
    }

    /// What the router wrote to each socket since the last call, for each
    /// socket it wrote to.
    pub fn take_all_received(&mut self) -> Vec<(ConnHandle, Vec<u8>)> {
        let written_to = std::mem::take(&mut self.written_to);
        written_to
            .into_iter()
            .map(|conn| (conn, std::mem::take(&mut self.socket(conn).received)))
            .filter(|(_, received)| !received.is_empty())
            .collect()
    }

    /// What the router told the driver since the last call, in order. Also
    /// starts a new count of writes for the livelock check, so call it after
    /// each `drive`.
    pub fn take_told(&mut self) -> Vec<Told> {
        self.writes_this_drive = 0;
        std::mem::take(&mut self.told)
    }

    fn open_socket(&mut self, conn: ConnHandle, what: &str) -> &mut Socket {
        let socket = self
            .sockets
            .get_mut(&conn)
            .unwrap_or_else(|| panic!("{what} for {conn}, never accepted"));
        assert!(!socket.closed, "{what} for {conn} after its close");
        socket
    }
}

impl Socket {
    /// Reads everything it is sent (`true`), or only what its window takes.
    pub fn set_reading(&mut self, reading: bool) {
        self.reading = reading;
    }

    /// Takes `bytes` more while it is not reading.
    pub fn open_window(&mut self, bytes: usize) {
        self.window = self.window.saturating_add(bytes);
    }

    /// Takes exactly `bytes` more, then blocks: not reading, window `bytes`.
    pub fn allow(&mut self, bytes: usize) {
        self.reading = false;
        self.window = bytes;
    }

    /// Every write takes at most `bytes` bytes.
    pub fn limit_writes(&mut self, bytes: usize) {
        assert!(
            bytes > 0,
            "a write of 0 bytes is `WouldBlock`: shut the window"
        );
        self.max_write = Some(bytes);
    }

    /// Whether a write would take anything now.
    pub fn can_take(&self) -> bool {
        self.reading || self.window > 0
    }

    /// The router was told, or will be told, that it is writable: the driver
    /// clears its `WouldBlock`. Returns whether it had said `WouldBlock`.
    pub fn unblock(&mut self) -> bool {
        std::mem::take(&mut self.blocked)
    }

    /// Whether the router has closed it.
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

impl Io for Network {
    fn write(&mut self, conn: ConnHandle, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        self.writes_this_drive += 1;
        assert!(
            self.writes_this_drive < MAX_WRITES_PER_DRIVE,
            "livelock: the router kept writing for {MAX_WRITES_PER_DRIVE} writes"
        );
        let socket = self.open_socket(conn, "write");
        assert!(!socket.blocked, "write to {conn}, which said WouldBlock");
        let first_since_taken = socket.received.is_empty();
        let offered: usize = slices.iter().map(|slice| slice.len()).sum();
        assert!(offered > 0, "an empty write to {conn}");
        let mut room = if socket.reading {
            usize::MAX
        } else {
            socket.window
        };
        room = room.min(socket.max_write.unwrap_or(usize::MAX));
        let mut taken = 0;
        for slice in slices {
            let take = slice.len().min(room - taken);
            socket.received.extend_from_slice(&slice[..take]);
            taken += take;
        }
        if taken == 0 {
            socket.blocked = true;
            return Err(io::ErrorKind::WouldBlock.into());
        }
        socket.window = socket.window.saturating_sub(taken);
        if first_since_taken {
            self.written_to.push(conn);
        }
        Ok(taken)
    }

    fn close(&mut self, conn: ConnHandle) {
        self.open_socket(conn, "close").closed = true;
        self.told.push(Told::Close(conn));
    }

    fn resume_reading(&mut self, conn: ConnHandle) {
        self.open_socket(conn, "resume");
        self.told.push(Told::ResumeReading(conn));
    }

    fn stop_listening(&mut self) {
        assert!(self.listening, "told to stop listening twice");
        self.listening = false;
        self.told.push(Told::StopListening);
    }
}

/// An [`Io`] whose sockets and peer links take every byte at once and forget
/// it: the core alone, for benchmarks and memory probes.
#[derive(Debug, Default)]
pub struct Sink;

impl Io for Sink {
    fn write(&mut self, _conn: ConnHandle, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        Ok(slices.iter().map(|slice| slice.len()).sum())
    }
    fn close(&mut self, _conn: ConnHandle) {}
    fn resume_reading(&mut self, _conn: ConnHandle) {}
    fn stop_listening(&mut self) {}
    fn send_to_peer(&mut self, _peer: PeerId, _batch: &mut Vec<u8>) -> bool {
        true
    }
}
