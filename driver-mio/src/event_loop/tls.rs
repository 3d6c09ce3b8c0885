//! The loop's side of TLS: what only mio knows. [`router_tls::TlsLoop`]
//! decides what becomes of the sockets it holds (handshaking, or lingering
//! after a close) and reads and writes them; here they get tokens of their
//! own, and move to their client's token once the router gave it an ID.

use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Token};
use router_core::ConnHandle;
use router_tls::{Admitted, PendingId, Tls, TlsLoop};

use super::EventLoop;
use crate::send::SendTo;

/// Tokens of held sockets start here, above every client ID (a `u32`)
/// and below the listener's and waker's.
const PENDING_BASE: usize = 1 << 32;

/// TLS on the loop: the layer with the sockets it holds, and which of them
/// the poller reported.
#[derive(Debug)]
pub(crate) struct TlsSockets {
    pub(crate) layer: TlsLoop<Held>,
    /// Held sockets the poller reported, to serve this turn.
    ready: Vec<PendingId>,
}

/// A socket the layer holds, registered under its [`PendingId`]'s token:
/// edge-triggered, so the layer reads it until `WouldBlock`.
#[derive(Debug)]
pub(crate) struct Held(TcpStream);

impl Read for Held {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Held {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        SendTo(&self.0).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        SendTo(&self.0).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TlsSockets {
    pub(crate) fn new(tls: Tls) -> Self {
        TlsSockets {
            layer: TlsLoop::new(tls),
            ready: Vec::new(),
        }
    }

    /// The held socket `token` names, if it names one.
    pub(crate) fn note_ready(&mut self, token: Token) -> bool {
        let Some(index) = token.0.checked_sub(PENDING_BASE) else {
            return false;
        };
        let Ok(id) = u32::try_from(index) else {
            return false;
        };
        self.ready.push(PendingId(id));
        true
    }
}

fn pending_token(id: PendingId) -> Token {
    Token(PENDING_BASE + id.0 as usize)
}

/// Both directions: the layer reads while the handshake runs, and writes
/// its records when the socket takes them.
const BOTH: Interest = Interest::READABLE.add(Interest::WRITABLE);

impl EventLoop {
    /// A new socket with TLS on: its handshake starts, and it gets no ID yet.
    pub(super) fn admit_tls(&mut self, mut stream: TcpStream, peer: SocketAddr, now: Instant) {
        let Some(t) = &mut self.tls else {
            return;
        };
        let registry = self.poll.registry();
        let ready = &mut t.ready;
        t.layer.accept(peer, now, |id| {
            let _ = stream.set_nodelay(true);
            registry.register(&mut stream, pending_token(id), BOTH)?;
            // Registration reports readiness the socket already has; so
            // does serving it this turn.
            ready.push(id);
            Ok(Held(stream))
        });
    }

    /// Moves the held sockets along: timeouts, the lingering closes the
    /// router left, and the sockets the poller reported; then serves the
    /// clients whose handshake completed under their ID.
    pub(super) fn serve_tls(&mut self, now: Instant) {
        let Some(t) = &mut self.tls else {
            return;
        };
        let registry = self.poll.registry();
        t.layer.handle_timeout(now);
        for (mut stream, peer, session) in self.sockets.closing.drain(..) {
            t.layer.linger(*session, peer, now, |id| {
                registry.reregister(&mut stream, pending_token(id), BOTH)?;
                Ok(Held(stream))
            });
        }
        for id in std::mem::take(&mut t.ready) {
            t.layer.serve(id, now);
        }
        while let Some(admitted) = t.layer.poll_admitted(&mut self.router, now) {
            let Admitted {
                conn,
                session,
                socket: Held(mut stream),
                peer,
            } = admitted;
            let token = Token(conn.id() as usize);
            let registered = registry.reregister(&mut stream, token, BOTH);
            self.sockets
                .insert(conn, stream, peer, Some(Box::new(session)));
            if registered.is_err() {
                self.router.handle_reset(conn, now);
                continue;
            }
            // The client's next bytes may be in the kernel already, announced
            // by an edge taken while it was held.
            self.sockets.queue_read(conn);
        }
    }

    /// The earliest deadline of a handshake or a lingering close.
    pub(super) fn tls_deadline(&mut self) -> Option<Instant> {
        self.tls.as_mut().and_then(|t| t.layer.poll_timeout())
    }

    /// Writes what a TLS connection's session holds, at its writability:
    /// whether the router may write to it now (no records wait, or it has
    /// no session).
    pub(super) fn flush_session(&mut self, conn: ConnHandle) -> bool {
        let Some(c) = self.sockets.connections.get_mut(&conn) else {
            return true;
        };
        // A failure shows again on the next read or write.
        c.session
            .as_mut()
            .is_none_or(|session| session.flush(&mut SendTo(&c.stream)).is_ok())
    }
}
