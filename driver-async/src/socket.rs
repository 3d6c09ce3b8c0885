//! What the router task needs from a runtime's TCP stream.

use std::io::{self, IoSlice};
use std::task::{Context, Poll};

/// A connected, non-blocking TCP stream registered with an async runtime's
/// reactor: tokio's `TcpStream`, or async-io's `Async<TcpStream>` (smol).
///
/// The router task uses it the way async-io's own `read_with` does: it tries
/// the operation first and polls readiness only after `WouldBlock`, which
/// registers the connection's waker with the reactor. So the two readiness
/// polls must follow that contract: `Ready` when the runtime has seen the
/// socket become ready since it last returned `Pending` (a spurious `Ready` is
/// harmless: the next try says `WouldBlock`), `Pending` with `cx`'s waker
/// registered otherwise.
pub trait Socket {
    /// Polls for readability, registering `cx`'s waker if it is not ready.
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Polls for writability, registering `cx`'s waker if it is not ready.
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Reads what the kernel has, without blocking: `Ok(0)` at EOF,
    /// `WouldBlock` when nothing is buffered.
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize>;

    /// Writes a prefix of `bufs` with one vectored write, without blocking:
    /// `WouldBlock` when the send buffer is full.
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
}
