//! The loop's sockets, keyed by connection: what the router writes to and
//! closes through [`Io`], and which of them may have bytes to read.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use router_core::{ConnHandle, Io, PeerId};
use router_links::CoreLinks;
use router_tls::Session;
use rustc_hash::FxHashMap;
use tracing::debug;

use crate::send::{SendTo, send_vectored};

#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) stream: TcpStream,
    /// Kept for the close log line: once the client has reset, the socket
    /// no longer knows it.
    peer: SocketAddr,
    /// Listed in `read_queue`, so that it is listed once.
    in_read_queue: bool,
    /// The poller has reported the peer's FIN or an error: read until `0`,
    /// the error, or `WouldBlock`, since no further edge will announce them.
    pub(crate) read_closed: bool,
    /// Its TLS session, with TLS on: every read and write passes through it.
    /// Boxed, so that a plain connection pays one pointer for it.
    pub(crate) session: Option<Box<Session>>,
}

#[derive(Debug)]
pub(crate) struct Sockets {
    /// `None` once the router said to stop listening: closing it makes the
    /// kernel refuse new connections.
    pub(crate) listener: Option<TcpListener>,
    pub(crate) connections: FxHashMap<ConnHandle, Connection>,
    /// Connections that may have bytes to read: readiness reported, reading
    /// resumed, or the read budget spent. Edge-triggered readiness does not
    /// repeat, so whoever is listed here is read until it is drained: a
    /// read that leaves the buffer part-empty, or `WouldBlock`.
    pub(crate) read_queue: VecDeque<ConnHandle>,
    /// TLS connections the router closed with records still to write, for
    /// the loop to hand to the TLS layer to linger.
    pub(crate) closing: Vec<(TcpStream, SocketAddr, Box<Session>)>,
    /// The links to the core's peers, if it has any: batches go out through
    /// them in [`Io::send_to_peer`].
    pub(crate) peers: Option<CoreLinks>,
}

impl Sockets {
    pub(crate) fn new(listener: TcpListener) -> Self {
        Sockets {
            listener: Some(listener),
            connections: FxHashMap::default(),
            read_queue: VecDeque::new(),
            closing: Vec::new(),
            peers: None,
        }
    }

    pub(crate) fn insert(
        &mut self,
        conn: ConnHandle,
        stream: TcpStream,
        peer: SocketAddr,
        session: Option<Box<Session>>,
    ) {
        let connection = Connection {
            stream,
            peer,
            in_read_queue: false,
            read_closed: false,
            session,
        };
        self.connections.insert(conn, connection);
    }

    /// Lists `conn` to be read this turn or the next.
    pub(crate) fn queue_read(&mut self, conn: ConnHandle) {
        if let Some(c) = self.connections.get_mut(&conn) {
            if !c.in_read_queue {
                c.in_read_queue = true;
                self.read_queue.push_back(conn);
            }
        }
    }

    /// Takes the connection listed longest ago off the read queue.
    pub(crate) fn next_to_read(&mut self) -> Option<ConnHandle> {
        let conn = self.read_queue.pop_front()?;
        if let Some(c) = self.connections.get_mut(&conn) {
            c.in_read_queue = false;
        }
        Some(conn)
    }
}

impl Io for Sockets {
    fn write(&mut self, conn: ConnHandle, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        let c = self
            .connections
            .get_mut(&conn)
            .ok_or(io::ErrorKind::NotConnected)?;
        match &mut c.session {
            None => send_vectored(&c.stream, slices),
            Some(session) => session.write(slices, &mut SendTo(&c.stream)),
        }
    }

    fn close(&mut self, conn: ConnHandle) {
        // Dropping the socket closes it, which also removes it from the
        // poller; a readiness event already taken for it finds no socket.
        let Some(c) = self.connections.remove(&conn) else {
            return;
        };
        debug!(conn = conn.id(), peer = %c.peer, "disconnected");
        // close_notify; records the socket did not take linger.
        if let Some(session) = c.session.and_then(|s| s.close(&mut SendTo(&c.stream))) {
            self.closing.push((c.stream, c.peer, session));
        }
    }

    fn resume_reading(&mut self, conn: ConnHandle) {
        // Bytes may be waiting with no new edge to announce them.
        self.queue_read(conn);
    }

    fn stop_listening(&mut self) {
        self.listener = None;
    }

    fn send_to_peer(&mut self, peer: PeerId, batch: &mut Vec<u8>) -> bool {
        self.peers
            .as_mut()
            .is_some_and(|peers| peers.send(peer, batch))
    }
}
