//! tokio's TCP stream, as the router task reads and writes it.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use driver_async::Socket;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::TcpStream;

/// An accepted connection. tokio keeps each stream's readiness: its
/// `poll_read` clears it after a read that leaves the buffer part-empty (on
/// epoll and kqueue that read drained the socket), so the next `poll_read`
/// registers the waker without a system call; `try_write_vectored` clears it
/// on `WouldBlock`, and `poll_write_ready` registers the connection's waker:
/// exactly the contract of [`Socket`].
#[derive(Debug)]
pub struct TokioSocket(TcpStream);

impl TokioSocket {
    pub(crate) fn new(stream: TcpStream) -> Self {
        // Frames are written as soon as they are routed: Nagle's algorithm
        // would hold small ones back for the peer's delayed ACK. A socket that
        // refuses the option still works, only slower.
        let _ = stream.set_nodelay(true);
        TokioSocket(stream)
    }
}

impl Socket for TokioSocket {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        ready!(Pin::new(&mut self.0).poll_read(cx, &mut buf))?;
        Poll::Ready(Ok(buf.filled().len()))
    }

    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll_write_ready(cx)
    }

    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.try_write_vectored(bufs)
    }
}
