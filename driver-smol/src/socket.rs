//! async-io's TCP stream, as the router task reads and writes it.

use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::task::{Context, Poll};

use async_io::Async;
use driver_async::Socket;

/// An accepted connection. Reads and writes go straight to the non-blocking
/// std stream inside (`&TcpStream` is `Read + Write`); `poll_readable` and
/// `poll_writable` register the connection's waker and say `Ready` once the
/// reactor has seen an event since they last said `Pending`: exactly the
/// contract of [`Socket`].
#[derive(Debug)]
pub(crate) struct SmolSocket(Async<TcpStream>);

impl SmolSocket {
    pub(crate) fn new(stream: Async<TcpStream>) -> Self {
        // Frames are written as soon as they are routed: Nagle's algorithm
        // would hold small ones back for the peer's delayed ACK. A socket that
        // refuses the option still works, only slower.
        let _ = stream.get_ref().set_nodelay(true);
        SmolSocket(stream)
    }
}

impl Socket for SmolSocket {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll_readable(cx)
    }

    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll_writable(cx)
    }

    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.get_ref().read(buf)
    }

    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.get_ref().write_vectored(bufs)
    }
}
