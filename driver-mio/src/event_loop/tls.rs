//! The loop's side of TLS: sockets whose handshake runs (or whose last
//! records linger after a close), keyed by the layer's [`PendingId`] under
//! tokens of their own, and their passage to the router once established.
//! What happens to them is decided by [`router_tls::Tls`]; this only moves
//! bytes and sockets.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Token};
use router_core::ConnHandle;
use router_tls::{PendingId, Tls, TlsEvent};
use rustc_hash::FxHashMap;
use tracing::debug;

use super::{EventLoop, SCRATCH_BYTES};
use crate::send::SendTo;

/// Tokens of pending sockets start here, above every client ID (a `u32`)
/// and below the listener's and waker's.
const PENDING_BASE: usize = 1 << 32;

/// TLS on the loop: the layer, the sockets it holds, and a buffer for
/// decrypted bytes.
#[derive(Debug)]
pub(crate) struct TlsSockets {
    pub(crate) tls: Tls,
    pending: FxHashMap<PendingId, (TcpStream, SocketAddr)>,
    /// Pending sockets the poller reported, to serve this turn.
    ready: Vec<PendingId>,
    /// Where sessions decrypt into, one for the loop like the read buffer.
    pub(crate) plaintext: Box<[u8]>,
}

impl TlsSockets {
    pub(crate) fn new(tls: Tls) -> Self {
        TlsSockets {
            tls,
            pending: FxHashMap::default(),
            ready: Vec::new(),
            plaintext: vec![0; SCRATCH_BYTES].into_boxed_slice(),
        }
    }

    /// The pending socket `token` names, if it names one.
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

impl EventLoop {
    /// A new socket with TLS on: its handshake starts, and it gets no ID yet.
    pub(super) fn admit_tls(&mut self, mut stream: TcpStream, peer: SocketAddr, now: Instant) {
        let Some(t) = &mut self.tls else {
            return;
        };
        let Some(id) = t.tls.accept(now) else {
            debug!(%peer, "refused: too many TLS handshakes");
            return;
        };
        let _ = stream.set_nodelay(true);
        let registered = self.poll.registry().register(
            &mut stream,
            pending_token(id),
            Interest::READABLE | Interest::WRITABLE,
        );
        t.pending.insert(id, (stream, peer));
        match registered {
            Ok(()) => t.ready.push(id),
            Err(error) => {
                debug!(%peer, %error, "could not register a TLS connection");
                t.tls.handle_closed(id, now);
            }
        }
    }

    /// Moves the handshakes along: timeouts, the sockets the poller
    /// reported, and the lingering closes the router left; then does what
    /// the layer decided.
    pub(super) fn serve_tls(&mut self, now: Instant) {
        let Some(t) = &mut self.tls else {
            return;
        };
        t.tls.handle_timeout(now);
        for (mut stream, peer, session) in self.sockets.closing.drain(..) {
            let Some(id) = t.tls.linger(*session, now) else {
                continue;
            };
            if self
                .poll
                .registry()
                .reregister(
                    &mut stream,
                    pending_token(id),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .is_ok()
            {
                t.pending.insert(id, (stream, peer));
            } else {
                t.tls.handle_closed(id, now);
            }
        }
        for id in std::mem::take(&mut t.ready) {
            let Some((stream, _)) = t.pending.get_mut(&id) else {
                continue;
            };
            // Until it would block: no new edge announces bytes left behind.
            while t.tls.wants_input(id) {
                match stream.read(&mut self.scratch) {
                    Ok(0) => {
                        t.tls.handle_closed(id, now);
                        break;
                    }
                    Ok(n) => t.tls.handle_input(id, &self.scratch[..n], now),
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        t.tls.handle_closed(id, now);
                        break;
                    }
                }
            }
            t.tls.flush(id, &mut SendTo(stream), now);
        }
        while let Some(event) = self.tls.as_mut().and_then(|t| t.tls.poll_event()) {
            match event {
                TlsEvent::Close(id) => {
                    if let Some(t) = &mut self.tls {
                        t.pending.remove(&id);
                    }
                }
                TlsEvent::Established(id) => self.establish(id, now),
            }
        }
    }

    /// Hands a socket whose handshake completed to the router, which sends
    /// it its ID or refuses it.
    fn establish(&mut self, id: PendingId, now: Instant) {
        let Some(t) = &mut self.tls else {
            return;
        };
        let Some((mut stream, peer)) = t.pending.remove(&id) else {
            return;
        };
        let Some((conn, session)) = t.tls.admit(id, &mut self.router, now) else {
            debug!(%peer, "refused");
            return;
        };
        debug!(conn = conn.id(), %peer, "connected over TLS");
        let registered = self.poll.registry().reregister(
            &mut stream,
            Token(conn.id() as usize),
            Interest::READABLE | Interest::WRITABLE,
        );
        self.sockets
            .insert(conn, stream, peer, Some(Box::new(session)));
        if registered.is_err() {
            self.router.handle_reset(conn, now);
            return;
        }
        // The client's next bytes may be in the kernel already, announced
        // by an edge taken while it was pending.
        self.sockets.queue_read(conn);
    }

    /// The earliest deadline of a handshake or a lingering close.
    pub(super) fn tls_deadline(&mut self) -> Option<Instant> {
        self.tls.as_mut().and_then(|t| t.tls.poll_timeout())
    }

    /// Writes what a TLS connection's session holds, at its writability.
    pub(super) fn flush_session(&mut self, conn: ConnHandle) {
        if let Some(c) = self.sockets.connections.get_mut(&conn) {
            if let Some(session) = &mut c.session {
                // A failure shows again on the next read or write.
                let _ = session.flush(&mut SendTo(&c.stream));
            }
        }
    }
}
