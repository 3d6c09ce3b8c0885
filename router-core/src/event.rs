//! What the router tells its driver.

use std::io::IoSlice;

use crate::outbound::OutboundQueue;

/// A connection, named by the ID its client was given.
///
/// No two live connections of one router share an ID, so the ID is the handle:
/// a driver can key its sockets by it (a `mio::Token`, a slab index). An ID is
/// reused only after the whole ID space has been handed out since, and only once
/// the router has emitted [`Event::Close`] for its previous holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnHandle(pub u32);

impl ConnHandle {
    /// The client's ID, as sent to it on accept.
    pub fn id(self) -> u32 {
        self.0
    }
}

impl std::fmt::Display for ConnHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Something the driver must act on, from [`Router::poll_event`].
///
/// [`Router::poll_event`]: crate::Router::poll_event
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Stop reading from this connection: a destination it sends to is full.
    /// Leaving its bytes in the kernel pushes back on the client through TCP's
    /// flow control. [`Router::wants_read`](crate::Router::wants_read) is now false.
    /// A connection's pause and resume events alternate, starting with a pause.
    PauseReading(ConnHandle),
    /// Read from this connection again. Bytes may have arrived meanwhile with no
    /// new readiness edge, so an edge-triggered driver reads at once.
    ResumeReading(ConnHandle),
    /// Close this connection's socket and forget the handle. Emitted exactly
    /// once per accepted connection, whoever decided the close.
    Close(ConnHandle),
    /// After [`Router::shutdown`](crate::Router::shutdown): every connection is
    /// closed, and the driver may exit.
    Drained,
}

/// A connection has bytes to write, from [`Router::poll_transmit`].
///
/// The bytes stay in the router; this borrows them. Write them with one
/// vectored write, then report how many the kernel took with
/// [`Router::handle_written`].
///
/// [`Router::poll_transmit`]: crate::Router::poll_transmit
/// [`Router::handle_written`]: crate::Router::handle_written
#[derive(Debug)]
pub struct Transmit<'a> {
    /// Where to write.
    pub conn: ConnHandle,
    pub(crate) queue: &'a OutboundQueue,
}

impl<'a> Transmit<'a> {
    /// Fills `out` with slices of the queued bytes, front first, and returns how
    /// many it filled. Frames are coalesced, so a few slices carry many frames;
    /// 64 slots (a stack array) are plenty, and more than `IOV_MAX` are never
    /// useful.
    pub fn io_slices(&self, out: &mut [IoSlice<'a>]) -> usize {
        self.queue.io_slices(out)
    }

    /// Bytes queued in all, of which the slices may cover a prefix.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Never true: the router offers only connections with bytes to write.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

/// Why [`Router::handle_accept`](crate::Router::handle_accept) refused a
/// connection. The driver closes the socket without writing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AcceptError {
    /// `max_connections` connections are open.
    #[error("connection limit ({0}) reached")]
    ConnectionLimit(usize),
    /// The router is shutting down.
    #[error("shutting down")]
    ShuttingDown,
}

/// A connection's state, for operators and tests: who is slow, who is paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnInfo {
    /// Bytes queued to it (its ID included until written).
    pub queued_bytes: usize,
    /// Bytes read from it but not yet routed: a partial frame, or frames
    /// buffered while it is paused.
    pub buffered_bytes: usize,
    /// Heap bytes its buffers hold, which may exceed the two counts above by
    /// allocation slack.
    pub heap_bytes: usize,
    /// Whether its reading is paused behind a full destination.
    pub paused: bool,
    /// Whether it sent EOF (or the router is shutting down, or shed it to
    /// stay within `max_buffered_bytes`) and is flushing.
    pub closing: bool,
}
