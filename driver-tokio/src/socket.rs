//! tokio's TCP stream, as the router task reads and writes it.

use std::io::{self, IoSlice};
use std::task::{Context, Poll};

use driver_async::Socket;
use tokio::net::TcpStream;

/// An accepted connection. tokio's `try_*` calls clear the stream's readiness
/// when they return `WouldBlock`, and its `poll_*_ready` calls register the
/// connection's waker: exactly the contract of [`Socket`].
#[derive(Debug)]
pub(crate) struct TokioSocket(TcpStream);

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
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll_read_ready(cx)
    }

    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll_write_ready(cx)
    }

    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }

    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.try_write_vectored(bufs)
    }
}
