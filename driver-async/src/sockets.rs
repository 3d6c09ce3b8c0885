//! The router task's sockets, keyed by connection: what the router writes to
//! and closes through [`Io`].

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Waker;

use router_core::{ConnHandle, Io, PeerId};
use router_links::CoreLinks;
use rustc_hash::FxHashMap;
use tracing::debug;

use crate::Socket;
use crate::ready::ReadyQueue;

/// The listener and every open connection's socket.
#[derive(Debug)]
pub(crate) struct Sockets<S, L> {
    /// `None` once the router said to stop listening: dropping it makes the
    /// kernel refuse new connections.
    pub(crate) listener: Option<L>,
    pub(crate) connections: FxHashMap<ConnHandle, Connection<S>>,
    /// Connections their runtime woke, to be serviced.
    pub(crate) ready: Arc<ReadyQueue>,
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
    /// The last write returned `WouldBlock`; writability clears it.
    pub(crate) write_blocked: bool,
}

impl<S, L> Sockets<S, L> {
    pub(crate) fn new(listener: L) -> Self {
        Sockets {
            listener: Some(listener),
            connections: FxHashMap::default(),
            ready: Arc::default(),
            peers: None,
        }
    }

    /// Adds an accepted connection, to be serviced on the next turn (its
    /// first read registers its interest).
    pub(crate) fn insert(&mut self, conn: ConnHandle, socket: S, peer: SocketAddr) {
        let waker = self.ready.waker(conn);
        waker.wake_by_ref();
        let connection = Connection {
            socket,
            peer,
            waker,
            write_blocked: false,
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
        let result = c.socket.try_write_vectored(slices);
        if result
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
        if let Some(c) = self.connections.remove(&conn) {
            debug!(conn = conn.id(), peer = %c.peer, "disconnected");
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

    fn send_to_peer(&mut self, peer: PeerId, batch: &[u8]) -> bool {
        self.peers
            .as_mut()
            .is_some_and(|peers| peers.send(peer, batch))
    }
}
