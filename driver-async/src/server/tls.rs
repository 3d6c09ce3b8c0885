//! The task's side of TLS: what only the runtimes know.
//! [`router_tls::TlsLoop`] decides what becomes of the sockets it holds
//! (handshaking, or lingering after a close) and reads and writes them; here
//! each gets a waker of its own, which its reads and blocked writes
//! register, and moves to its client's once the router gave it an ID.

use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use router_tls::{Admitted, PendingId};

use super::RouterTask;
use crate::Socket;
use crate::ready::{ReadyQueue, Woken};
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

/// A socket the layer holds, with the waker that queues it for service
/// under its [`PendingId`]: a read or a write that would block registers it
/// with the runtime, so that readiness brings the socket back.
#[derive(Debug)]
pub(crate) struct Held<S> {
    socket: S,
    waker: Waker,
}

impl<S: Socket> Read for Held<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match (self.socket).poll_read(&mut Context::from_waker(&self.waker), buf) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl<S: Socket> Write for Held<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let result = self.socket.try_write_vectored(bufs);
        if result
            .as_ref()
            .is_err_and(|error| error.kind() == io::ErrorKind::WouldBlock)
        {
            let mut cx = Context::from_waker(&self.waker);
            if self.socket.poll_write_ready(&mut cx).is_ready() {
                // Room again already: the next service tries once more.
                self.waker.wake_by_ref();
            }
        }
        result
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<R: Runtime> RouterTask<R> {
    /// A new socket with TLS on: its handshake starts, and it gets no ID yet.
    pub(super) fn admit_tls(&mut self, socket: R::Socket, peer: SocketAddr, now: Instant) {
        let Some(t) = &mut self.tls else {
            return;
        };
        let ready = &self.sockets.ready;
        t.accept(peer, now, |id| Ok(hold(ready, socket, id)));
    }

    /// Serves a held socket the runtime woke.
    pub(super) fn serve_pending(&mut self, id: PendingId, now: Instant) {
        if let Some(t) = &mut self.tls {
            t.serve(id, now);
        }
        self.settle_tls(now);
    }

    /// Moves the held sockets along: timeouts, and the lingering closes the
    /// router left; then serves the clients whose handshake completed under
    /// their ID.
    pub(super) fn serve_tls(&mut self, now: Instant) {
        let Some(t) = &mut self.tls else {
            return;
        };
        t.handle_timeout(now);
        let ready = &self.sockets.ready;
        for (socket, peer, session) in self.sockets.closing.drain(..) {
            t.linger(*session, peer, now, |id| Ok(hold(ready, socket, id)));
        }
        self.settle_tls(now);
    }

    fn settle_tls(&mut self, now: Instant) {
        let Some(t) = &mut self.tls else {
            return;
        };
        while let Some(admitted) = t.poll_admitted(&mut self.router, now) {
            let Admitted {
                conn,
                session,
                socket: Held { socket, .. },
                peer,
            } = admitted;
            // Queued for service, whose first read registers its interest.
            self.sockets
                .insert(conn, socket, peer, Some(Box::new(session)));
        }
    }

    /// The earliest deadline of a handshake or a lingering close.
    pub(super) fn tls_deadline(&mut self) -> Option<Instant> {
        self.tls.as_mut().and_then(|t| t.poll_timeout())
    }
}

/// `socket`, held under `id` with a waker of its own, queued to be served.
fn hold<S>(ready: &Arc<ReadyQueue>, socket: S, id: PendingId) -> Held<S> {
    let waker = ready.waker(Woken::Pending(id));
    waker.wake_by_ref();
    Held { socket, waker }
}
