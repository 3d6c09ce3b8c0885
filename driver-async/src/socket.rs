//! What the router task needs from a runtime's TCP stream.

use std::io::{self, IoSlice};
use std::task::{Context, Poll};

/// A connected, non-blocking TCP stream registered with an async runtime's
/// reactor: tokio's `TcpStream`, or async-io's `Async<TcpStream>` (smol).
///
/// Reading is one poll, as in `AsyncRead`, so that each runtime can spend
/// as few system calls as it knows how: after a read that did not fill the
/// buffer, an edge-triggered reactor knows the socket is drained, and the
/// next `poll_read` can register the waker without trying a read that would
/// only say `WouldBlock`. That is one `recv` per message at low load instead
/// of two. Writing tries first and polls readiness only after `WouldBlock`,
/// the pattern of async-io's `write_with`: writes rarely block.
pub trait Socket {
    /// Reads what the kernel has into `buf`: `Ready(Ok(0))` at EOF,
    /// `Pending` with `cx`'s waker registered when nothing is buffered.
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;

    /// Polls for writability, registering `cx`'s waker if it is not ready:
    /// `Ready` when the runtime has seen the socket become writable since it
    /// last returned `Pending` (a spurious `Ready` is harmless: the next try
    /// says `WouldBlock`).
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Writes a prefix of `bufs` with one vectored write, without blocking:
    /// `WouldBlock` when the send buffer is full.
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
}
