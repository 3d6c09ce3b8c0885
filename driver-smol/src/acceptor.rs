//! async-io's TCP listener, as the router task accepts from it.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::task::{Context, Poll, ready};

use async_io::Async;

use crate::socket::SmolSocket;

/// The listener, polled the way [`SmolSocket`] polls a connection.
///
/// async-io's own `accept` tries the system call first, and, polled again
/// after it said `Pending`, assumes readiness and tries again: polled once per
/// turn of the router's loop, it cost an `accept4` that says `WouldBlock` on
/// every turn. Remembering that the backlog was found empty lets `poll_accept`
/// wait for the reactor's event instead, and only then call `accept`.
#[derive(Debug)]
pub struct Acceptor {
    listener: Async<TcpListener>,
    /// The last `accept` found no connection waiting: wait for readiness
    /// before calling it again.
    drained: bool,
}

impl Acceptor {
    pub(crate) fn new(listener: Async<TcpListener>) -> Self {
        Acceptor {
            listener,
            // Clients may be waiting already.
            drained: false,
        }
    }

    /// The next connection in the listener's backlog, or why `accept` failed.
    pub(crate) fn poll_accept(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(SmolSocket, SocketAddr)>> {
        loop {
            if self.drained {
                ready!(self.listener.poll_readable(cx))?;
                self.drained = false;
            }
            match self.listener.get_ref().accept() {
                Ok((stream, peer)) => {
                    return Poll::Ready(Async::new(stream).map(|s| (SmolSocket::new(s), peer)));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => self.drained = true,
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }
}
