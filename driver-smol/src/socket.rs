//! async-io's TCP stream, as the router task reads and writes it.

use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::task::{Context, Poll, ready};

use async_io::Async;
use driver_async::Socket;

/// An accepted connection. Reads and writes go straight to the non-blocking
/// std stream inside (`&TcpStream` is `Read + Write`); `poll_readable` and
/// `poll_writable` register the connection's waker and say `Ready` once the
/// reactor has seen an event since they last said `Pending`.
///
/// async-io's own `poll_read` tries a read before it polls readiness, which
/// after a read that drained the socket costs a `recv` that says
/// `WouldBlock`, and then, since the reactor's event is still unconsumed, a
/// second one. Remembering that the last read drained the socket lets
/// `poll_read` go straight to `poll_readable`, which re-arms the socket's
/// (one-shot) interest: the kernel reports at once if bytes arrived since.
#[derive(Debug)]
pub struct SmolSocket {
    stream: Async<TcpStream>,
    /// The last read found nothing, or less than it had room for: wait for
    /// readiness before reading again.
    drained: bool,
}

impl SmolSocket {
    pub(crate) fn new(stream: Async<TcpStream>) -> Self {
        // Frames are written as soon as they are routed: Nagle's algorithm
        // would hold small ones back for the peer's delayed ACK. A socket that
        // refuses the option still works, only slower.
        let _ = stream.get_ref().set_nodelay(true);
        SmolSocket {
            stream,
            // A new client may have sent already: read before waiting.
            drained: false,
        }
    }
}

impl Socket for SmolSocket {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        loop {
            if self.drained {
                ready!(self.stream.poll_readable(cx))?;
                self.drained = false;
            }
            match self.stream.get_ref().read(buf) {
                Ok(n) => {
                    self.drained = n < buf.len();
                    return Poll::Ready(Ok(n));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => self.drained = true,
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }

    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream.poll_writable(cx)
    }

    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.stream.get_ref().write_vectored(bufs)
    }
}
