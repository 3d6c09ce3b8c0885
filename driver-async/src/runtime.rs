//! What an async runtime lends the router task: its listener, its timer and
//! its TCP streams ([`Socket`](crate::Socket)).
//!
//! These are the only things the tokio and smol drivers differ in, so they
//! are all a driver crate implements; the loop that uses them is
//! [`Server::run`](crate::Server::run), written once.

use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::Socket;

/// An async runtime, as the router task uses it.
pub trait Runtime: 'static {
    /// An accepted connection.
    type Socket: Socket;
    /// The listening socket, registered with the runtime's reactor.
    type Listener: Listener<Socket = Self::Socket>;
    /// A timer that can be re-armed.
    type Timer: Timer;

    /// Adopts a bound, non-blocking std listener. Called inside
    /// [`Server::run`](crate::Server::run), so on the runtime, as tokio's
    /// `from_std` requires.
    fn listener(listener: std::net::TcpListener) -> io::Result<Self::Listener>;

    /// A timer not yet armed.
    fn timer() -> Self::Timer;
}

/// A listener's `accept`, as a poll.
pub trait Listener {
    /// What it accepts.
    type Socket;

    /// The next connection in the backlog, or why `accept` failed; `Pending`
    /// with `cx`'s waker registered for the listener's next readiness when
    /// the backlog is empty.
    fn poll_accept(&mut self, cx: &mut Context<'_>)
    -> Poll<io::Result<(Self::Socket, SocketAddr)>>;
}

/// A runtime timer, as a poll.
pub trait Timer {
    /// `Ready` once `at` has passed; otherwise arms the timer for `at` (if
    /// it is not armed for it already) and registers `cx`'s waker. The task
    /// checks the clock itself too, so a timer that fires early or late
    /// only costs a turn.
    fn poll_at(&mut self, cx: &mut Context<'_>, at: Instant) -> Poll<()>;
}
