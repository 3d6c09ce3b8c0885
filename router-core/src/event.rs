//! What the router tells its driver.

use std::io::IoSlice;

use crate::outbound::OutboundQueue;

/// A connection, named by the ID its client was given.
///
/// No two live connections of one router share an ID, so the ID is the handle:
/// a driver can key its sockets by it (a `mio::Token`, a slab index). An ID is
/// reused only after the whole ID space has been handed out since, and only once
/// the router has closed its previous holder ([`Io::close`](crate::Io::close)).
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

/// Something the driver must do, which [`Router::drive`] hands to the
/// driver's [`Io`].
///
/// [`Router::drive`]: crate::Router::drive
/// [`Io`]: crate::Io
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// [`Io::resume_reading`](crate::Io::resume_reading).
    ResumeReading(ConnHandle),
    /// [`Io::close`](crate::Io::close).
    Close(ConnHandle),
    /// [`Io::stop_listening`](crate::Io::stop_listening).
    StopListening,
}

/// A connection has bytes to write. The bytes stay in the router; this
/// borrows them for one vectored write.
#[derive(Debug)]
pub(crate) struct Transmit<'a> {
    /// Where to write.
    pub(crate) conn: ConnHandle,
    pub(crate) queue: &'a OutboundQueue,
}

impl<'a> Transmit<'a> {
    /// Fills `out` with slices of the queued bytes, front first, and returns how
    /// many it filled.
    pub(crate) fn io_slices(&self, out: &mut [IoSlice<'a>]) -> usize {
        self.queue.io_slices(out)
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
    /// Whether it sent EOF (or the router is shutting down) and is flushing.
    pub closing: bool,
}
