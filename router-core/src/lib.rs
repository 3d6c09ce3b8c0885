//! The sans-IO core of a TCP message router.
//!
//! This crate is fully deterministic: it contains no networking code, reads no
//! clock, starts no thread and needs no async runtime. It owns every routing
//! decision and every buffer of the router, and is driven by a loop that
//! moves bytes between sockets and a [`Router`]. Time comes in as an argument.
//! The same core runs under the mio, tokio and smol drivers of this project, in
//! a test simulator, in a fuzzer, and in whatever event loop you embed it in.
//!
//! # The protocol it implements
//!
//! A client connects and is sent its ID, a big-endian `u32`. It sends frames
//! `[dest: u32][payload][0x00]`, where the payload holds no `0x00`; the router
//! delivers `payload + 0x00` to client `dest`. The repository's `PROTOCOL.md`
//! gives every case: unknown destinations, slow readers, disconnects, floods.
//!
//! # Driving it
//!
//! A driver tells the router what happened with the `handle_*` methods
//! ([`handle_accept`](Router::handle_accept), [`handle_input`](Router::handle_input),
//! [`handle_eof`](Router::handle_eof), [`handle_reset`](Router::handle_reset),
//! [`handle_writable`](Router::handle_writable), …), and then lets the router
//! act through the driver's sockets: **[`drive`](Router::drive) after any
//! `handle_*` call, or once after a batch of them, and again at the instant it
//! returns.** `drive` is the whole contract, written once: it handles the
//! timeouts that are due, closes sockets, resumes paused readers, writes what
//! is queued, and reads every write's result. The driver implements [`Io`]
//! (write to, and close, one of its sockets; resume reading one; close the
//! listener) and keeps sockets and nothing else that matters.
//!
//! Before each read, a driver asks [`wants_read`](Router::wants_read) (false
//! while the connection is paused behind a full destination, after its EOF,
//! during shutdown); before each accept, [`wants_accept`](Router::wants_accept).
//! A connection's handle *is* its client's ID ([`ConnHandle`]); a driver keys
//! its sockets by it. Every failed `accept` goes to
//! [`handle_accept_error`](Router::handle_accept_error), which skips a failure
//! of one connection and pauses accepting for a moment when the listener
//! itself fails (out of file descriptors).
//!
//! Here is a complete driver over in-memory "sockets", in the shape of a real
//! one (the project's mio, tokio and smol drivers read and write real sockets
//! where this one pushes onto vectors):
//!
//! ```
//! use std::collections::HashMap;
//! use std::io::{self, IoSlice};
//! use std::time::Instant;
//! use router_core::{Config, ConnHandle, Io, Router};
//!
//! /// The driver's sockets: what each client has received so far.
//! #[derive(Default)]
//! struct Sockets(HashMap<ConnHandle, Vec<u8>>);
//!
//! impl Io for Sockets {
//!     fn write(&mut self, conn: ConnHandle, slices: &[IoSlice<'_>]) -> io::Result<usize> {
//!         // A real driver: `socket.write_vectored(slices)`, which may take
//!         // only part, or say `WouldBlock`.
//!         let socket = self.0.get_mut(&conn).ok_or(io::ErrorKind::NotConnected)?;
//!         let before = socket.len();
//!         slices.iter().for_each(|slice| socket.extend_from_slice(slice));
//!         Ok(socket.len() - before)
//!     }
//!     fn close(&mut self, conn: ConnHandle) {
//!         self.0.remove(&conn);
//!     }
//!     // A real driver reads the connection soon: bytes may be waiting.
//!     fn resume_reading(&mut self, _conn: ConnHandle) {}
//!     // A real driver drops its listener.
//!     fn stop_listening(&mut self) {}
//! }
//!
//! let mut router = Router::new(Config::default()).unwrap();
//! let mut sockets = Sockets::default();
//! let now = Instant::now();
//!
//! let alice = router.handle_accept(now).unwrap();
//! let bob = router.handle_accept(now).unwrap();
//! sockets.0.insert(alice, Vec::new());
//! sockets.0.insert(bob, Vec::new());
//! router.drive(now, &mut sockets); // Sends each client its ID.
//!
//! // Alice sends "hi" to Bob, cut in two reads.
//! let mut frame = bob.id().to_be_bytes().to_vec();
//! frame.extend_from_slice(b"hi\0");
//! router.handle_input(alice, &frame[..3], now);
//! router.handle_input(alice, &frame[3..], now);
//! // A real driver sleeps in its poller until the instant `drive` returns.
//! let _wake_at = router.drive(now, &mut sockets);
//!
//! // Bob got his ID, then the payload with its terminator.
//! let mut expected = bob.id().to_be_bytes().to_vec();
//! expected.extend_from_slice(b"hi\0");
//! assert_eq!(sockets.0[&bob], expected);
//! ```
//!
//! # What it guarantees
//!
//! - **Whole frames, in order.** A destination receives each payload
//!   contiguously; frames from one sender to one destination keep their order.
//! - **No head-of-line blocking.** A destination's queue is bounded by
//!   [`Config::outbound_high_water`]: a sender to a full destination is paused
//!   ([`Router::wants_read`] turns false) with its frame held, losing nothing, until the
//!   destination drains below [`Config::outbound_low_water`]; or, under
//!   [`OverflowPolicy::Drop`], the frame is dropped. Other pairs never wait.
//! - **Bounded memory.** Per connection at most about
//!   `max_frame_bytes + outbound_high_water + max_frame_bytes`, plus the one
//!   read a driver has in flight when it is paused. An idle connection holds no
//!   buffer at all once its ID is written.
//! - **Everything is counted.** Every frame dropped and every connection closed
//!   is counted by cause in [`Stats`].
//!
//! # Copies
//!
//! A payload is copied at most once between the driver's read buffer and the
//! slices [`Router::drive`] writes: a frame that arrives whole in one read is
//! copied straight into its destination's queue, where it coalesces with the
//! frames before it into one large write; a frame cut across reads is
//! reassembled in its sender's buffer and queued from there without a further
//! copy. Copying whole frames out of the read buffer, rather than queuing
//! slices of it, is deliberate: a slice would keep the sender's entire read
//! buffer alive for as long as the slowest destination holds one frame of it.
//!
//! # Shards and nodes
//!
//! An ID's high bits may name the shard and node that own it ([`IdLayout`]).
//! A frame for an ID owned elsewhere takes one branch of the routing step,
//! counted today as [`DropCause::NoRoute`], where a multi-core or clustered
//! router forwards it.

#![forbid(unsafe_code)]

mod accept;
mod config;
mod conn;
mod drive;
mod event;
pub mod frame;
mod ids;
mod outbound;
mod router;
mod stats;
mod timers;

pub use config::{Config, ConfigError, Limit, LimitKind, LimitValue, OverflowPolicy, WrongKind};
pub use drive::{Io, MAX_IO_SLICES};
pub use event::{AcceptError, ConnHandle, ConnInfo};
pub use ids::{IdLayout, IdLayoutError, Owner};
pub use router::Router;
pub use stats::{CloseCause, DropCause, FrameCount, Stats};
