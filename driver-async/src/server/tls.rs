//! The task's side of TLS: sockets whose handshake runs (or whose last
//! records linger after a close), keyed by the layer's [`PendingId`] with
//! wakers of their own, and their passage to the router once established.
//! What happens to them is decided by [`router_tls::Tls`]; this only moves
//! bytes and sockets.

use std::io::{self, IoSlice, Write};
use std::net::SocketAddr;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use router_tls::{PendingId, Tls, TlsEvent};
use rustc_hash::FxHashMap;
use tracing::debug;

use super::{RouterTask, SCRATCH_BYTES};
use crate::Socket;
use crate::ready::Woken;
use crate::runtime::Runtime;

/// A socket as rustls writes records to it: `try_write_vectored` behind
/// [`Write`].
pub(crate) struct TryWrite<'a, S>(pub(crate) &'a S);

impl<S: Socket> Write for TryWrite<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.try_write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// TLS on the task: the layer, the sockets it holds, and a buffer for
/// decrypted bytes.
#[derive(Debug)]
pub(crate) struct TlsSockets<S> {
    pub(super) tls: Tls,
    pending: FxHashMap<PendingId, Pending<S>>,
    /// Where sessions decrypt into, one for the task like the read buffer.
    pub(crate) plaintext: Box<[u8]>,
}

#[derive(Debug)]
struct Pending<S> {
    socket: S,
    peer: SocketAddr,
    waker: Waker,
}

impl<S> TlsSockets<S> {
    pub(crate) fn new(tls: Tls) -> Self {
        TlsSockets {
            tls,
            pending: FxHashMap::default(),
            plaintext: vec![0; SCRATCH_BYTES].into_boxed_slice(),
        }
    }
}

impl<R: Runtime> RouterTask<R> {
    /// A new socket with TLS on: its handshake starts, and it gets no ID yet.
    pub(super) fn admit_tls(&mut self, socket: R::Socket, peer: SocketAddr, now: Instant) {
        let Some(t) = &mut self.tls else {
            return;
        };
        let Some(id) = t.tls.accept(now) else {
            debug!(%peer, "refused: too many TLS handshakes");
            return;
        };
        self.hold(id, socket, peer);
    }

    /// Keys `socket` by `id`, to be served on the next turn.
    fn hold(&mut self, id: PendingId, socket: R::Socket, peer: SocketAddr) {
        let Some(t) = &mut self.tls else {
            return;
        };
        let waker = self.sockets.ready.waker(Woken::Pending(id));
        waker.wake_by_ref();
        t.pending.insert(
            id,
            Pending {
                socket,
                peer,
                waker,
            },
        );
    }

    /// Reads what a pending socket sent into the layer, and writes what the
    /// layer has for it, registering its waker for whichever it waits on.
    pub(super) fn serve_pending(&mut self, id: PendingId, now: Instant) {
        let Some(t) = &mut self.tls else {
            return;
        };
        let Some(p) = t.pending.get_mut(&id) else {
            return;
        };
        let mut cx = Context::from_waker(&p.waker);
        // Until `Pending`, which registers the waker for the next bytes.
        while t.tls.wants_input(id) {
            match p.socket.poll_read(&mut cx, &mut self.scratch) {
                Poll::Pending => break,
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                    t.tls.handle_closed(id, now);
                    break;
                }
                Poll::Ready(Ok(n)) => t.tls.handle_input(id, &self.scratch[..n], now),
            }
        }
        t.tls.flush(id, &mut TryWrite(&p.socket), now);
        if t.tls.wants_flush(id) && p.socket.poll_write_ready(&mut cx).is_ready() {
            p.waker.wake_by_ref();
        }
        self.settle_tls(now);
    }

    /// Moves the handshakes along: timeouts, and the lingering closes the
    /// router left; then does what the layer decided.
    pub(super) fn serve_tls(&mut self, now: Instant) {
        let Some(t) = &mut self.tls else {
            return;
        };
        t.tls.handle_timeout(now);
        for (socket, peer, session) in std::mem::take(&mut self.sockets.closing) {
            let Some(t) = &mut self.tls else {
                return;
            };
            if let Some(id) = t.tls.linger(*session, now) {
                self.hold(id, socket, peer);
            }
        }
        self.settle_tls(now);
    }

    fn settle_tls(&mut self, now: Instant) {
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
        let Some(p) = t.pending.remove(&id) else {
            return;
        };
        let Some((conn, session)) = t.tls.admit(id, &mut self.router, now) else {
            debug!(peer = %p.peer, "refused");
            return;
        };
        debug!(conn = conn.id(), peer = %p.peer, "connected over TLS");
        // Queued for service, whose first read registers its interest.
        self.sockets
            .insert(conn, p.socket, p.peer, Some(Box::new(session)));
    }

    /// The earliest deadline of a handshake or a lingering close.
    pub(super) fn tls_deadline(&mut self) -> Option<Instant> {
        self.tls.as_mut().and_then(|t| t.tls.poll_timeout())
    }
}
