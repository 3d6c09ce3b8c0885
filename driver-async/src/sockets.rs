//! The router task's sockets, keyed by connection: what the router writes to
//! and closes through [`Io`].

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Waker;

use router_core::{ConnHandle, Io, PeerId};
use router_links::CoreLinks;
use router_tls::Session;
use rustc_hash::FxHashMap;
use tracing::debug;

use crate::Socket;
use crate::ready::{ReadyQueue, Woken};
use crate::server::tls::TryWrite;

/// The listener and every open connection's socket.
#[derive(Debug)]
pub(crate) struct Sockets<S, L> {
    /// `None` once the router said to stop listening: dropping it makes the
    /// kernel refuse new connections.
    pub(crate) listener: Option<L>,
    pub(crate) connections: FxHashMap<ConnHandle, Connection<S>>,
    /// Connections their runtime woke, to be serviced.
    pub(crate) ready: Arc<ReadyQueue>,
    /// TLS connections the router closed with records still to write, for
    /// the task to hand to the TLS layer to linger.
    pub(crate) closing: Vec<(S, SocketAddr, Box<Session>)>,
    /// The links to the core's peers, if it has any: batches go out through
    /// them in [`Io::send_to_peer`].
    pub(crate) peers: Option<CoreLinks>,
}

#[derive(Debug)]
pub(crate) struct Connection<S> {
    pub(crate) socket: S,
    /// Kept for the close log line: once the client has reset, the socket
    /// no longer knows it.
    peer: SocketAddr,
    /// Queues this connection for service when the runtime wakes it.
    pub(crate) waker: Waker,
    /// The last write returned `WouldBlock`, or left TLS records unwritten;
    /// writability clears it.
    pub(crate) write_blocked: bool,
    /// Its TLS session, with TLS on: every read and write passes through it.
    /// Boxed, so that a plain connection pays one pointer for it.
    pub(crate) session: Option<Box<Session>>,
}

impl<S, L> Sockets<S, L> {
    pub(crate) fn new(listener: L) -> Self {
        Sockets {
            listener: Some(listener),
            connections: FxHashMap::default(),
            ready: Arc::default(),
            closing: Vec::new(),
            peers: None,
        }
    }

    /// Adds an accepted connection, to be serviced on the next turn (its
    /// first read registers its interest).
    pub(crate) fn insert(
        &mut self,
        conn: ConnHandle,
        socket: S,
        peer: SocketAddr,
        session: Option<Box<Session>>,
    ) {
        let waker = self.ready.waker(Woken::Conn(conn));
        waker.wake_by_ref();
        let connection = Connection {
            socket,
            peer,
            waker,
            write_blocked: false,
            session,
        };
        self.connections.insert(conn, connection);
    }
}

impl<S: Socket, L> Io for Sockets<S, L> {
    fn write(&mut self, conn: ConnHandle, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        let c = self
            .connections
            .get_mut(&conn)
            .ok_or(io::ErrorKind::NotConnected)?;
        let result = match &mut c.session {
            None => c.socket.try_write_vectored(slices),
            Some(session) => session.write(slices, &mut TryWrite(&c.socket)),
        };
        let records_left = c.session.as_ref().is_some_and(|s| s.wants_flush());
        if records_left
            || result
                .as_ref()
                .is_err_and(|error| error.kind() == io::ErrorKind::WouldBlock)
        {
            c.write_blocked = true;
            // Its service polls for writability, which registers its waker.
            c.waker.wake_by_ref();
        }
        result
    }

    fn close(&mut self, conn: ConnHandle) {
        // Dropping the socket closes it; the runtime forgets its waker.
        let Some(c) = self.connections.remove(&conn) else {
            return;
        };
        debug!(conn = conn.id(), peer = %c.peer, "disconnected");
        // close_notify; records the socket did not take linger.
        if let Some(session) = c.session.and_then(|s| s.close(&mut TryWrite(&c.socket))) {
            self.closing.push((c.socket, c.peer, session));
        }
    }

    fn resume_reading(&mut self, conn: ConnHandle) {
        // Bytes may wait in the kernel with no new readiness to come:
        // service it on the next turn, which reads before it waits.
        if let Some(c) = self.connections.get(&conn) {
            c.waker.wake_by_ref();
        }
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
