//! The tokio and smol drivers of [`router_core`], written once.
//!
//! [`Server`] runs the router as one task of an application's own async
//! runtime. Everything it does is the same for every runtime; what differs,
//! the runtime's listener, timer and TCP stream, comes in through the small
//! traits of [`Runtime`], which is all that `driver-tokio` and `driver-smol`
//! implement. Each turn the task takes in what happened (a
//! [`ShutdownHandle`] request, new connections, sockets the runtime woke),
//! calling [`Router::drive`](router_core::Router::drive) through the
//! sockets' [`Io`](router_core::Io) after each read and once at the end, and
//! registers its waker with every source of the next turn.
//!
//! # One owner, no races
//!
//! One task owns the [`Router`](router_core::Router) and every socket: no
//! `Arc<Mutex<Router>>`, no task per connection, no channel between them. The
//! router's decisions need all of its state at once, and a single owner gets
//! that for free.
//!
//! Such a task must still learn which of its sockets are ready without asking
//! each of them. Racing a future per connection (`select_all` over a `Vec`)
//! polls every connection on every wake-up: O(connections) per event, which
//! collapses at 10 000 mostly idle clients. Here each connection has its own
//! [`Waker`](std::task::Waker), which it passes to the runtime when it polls
//! the socket's readiness; the runtime wakes it when the socket becomes ready,
//! which queues the connection and wakes the task. A turn services exactly the
//! queued connections, so its cost follows the sockets that became ready.
//!
//! This is the machinery of `FuturesUnordered`, keyed by connection rather
//! than by future, for two reasons. A readiness future must own (an `Arc` of)
//! its socket until it resolves, which for an idle or stalled peer is never,
//! so a socket the router closes would stay open; here the task alone holds
//! each socket and dropping it closes it. And a connection's waker is
//! allocated once, not once per readiness wait.
//!
//! # A connection's service
//!
//! When a connection is serviced, it first checks writability if its last
//! write would have blocked, then reads with [`Socket::poll_read`] until it
//! says `Pending`, which registers the connection's waker for its next bytes.
//! A read that leaves the buffer part-empty has drained the socket, which
//! each runtime's `poll_read` uses to skip the `recv` that would only say
//! `WouldBlock`. A connection the router has paused
//! (`wants_read` false) is not read, so nothing is armed for it; when the
//! router resumes it ([`Io::resume_reading`](router_core::Io::resume_reading))
//! it is queued to be read at once, since its bytes may already wait with no
//! new readiness to come.
//!
//! Work per turn is bounded: a few reads per connection and a few dozen
//! connections per turn, after which the driver yields to its runtime. So
//! one flooding client cannot starve the others, nor the router the rest of
//! the application. The next deadline is what `drive` returns, and the
//! clock, not the runtime's timer, decides whether one is due: a timer may
//! fire late or early, and tokio's cooperative budget can keep a busy task
//! from seeing it at all.

mod ready;
mod runtime;
mod server;
mod shutdown;
mod socket;
mod sockets;

pub use runtime::{Listener, Runtime, Timer};
pub use server::Server;
pub use shutdown::ShutdownHandle;
pub use socket::Socket;
