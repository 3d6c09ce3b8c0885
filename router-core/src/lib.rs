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
//! [`handle_written`](Router::handle_written), [`handle_timeout`](Router::handle_timeout),
//! …) and then does what it is told. **After any `handle_*` call, drain
//! [`poll_event`](Router::poll_event) and [`poll_transmit`](Router::poll_transmit)
//! until they return `None`, then read [`poll_timeout`](Router::poll_timeout)
//! to know when to call [`handle_timeout`](Router::handle_timeout).** That is
//! the whole contract; the driver keeps sockets and nothing else that matters.
//!
//! A connection's handle *is* its client's ID ([`ConnHandle`]); a driver keys
//! its sockets by it.
//!
//! Accepting is the router's call too: a driver accepts while
//! [`wants_accept`](Router::wants_accept) says so and reports every failed
//! `accept` with [`handle_accept_error`](Router::handle_accept_error), which
//! skips a failure of one connection and pauses accepting for a moment when
//! the listener itself fails (out of file descriptors), with the resumption
//! in [`poll_timeout`](Router::poll_timeout).
//!
//! Here is a complete driver over in-memory "sockets", in the shape of a real
//! one (the mio driver reads and writes real sockets where this one pushes and
//! pops vectors):
//!
//! ```
//! use std::collections::HashMap;
//! use std::io::IoSlice;
//! use std::time::Instant;
//! use router_core::{Config, ConnHandle, Event, Router};
//!
//! let mut router = Router::new(Config::default()).unwrap();
//! // What each client has received so far: the driver's sockets.
//! let mut sockets: HashMap<ConnHandle, Vec<u8>> = HashMap::new();
//! let now = Instant::now();
//!
//! let alice = router.handle_accept(now).unwrap();
//! let bob = router.handle_accept(now).unwrap();
//! sockets.insert(alice, Vec::new());
//! sockets.insert(bob, Vec::new());
//! drive(&mut router, &mut sockets, now);
//!
//! // Alice sends "hi" to Bob, cut in two reads.
//! let mut frame = bob.id().to_be_bytes().to_vec();
//! frame.extend_from_slice(b"hi\0");
//! router.handle_input(alice, &frame[..3], now);
//! drive(&mut router, &mut sockets, now);
//! router.handle_input(alice, &frame[3..], now);
//! drive(&mut router, &mut sockets, now);
//!
//! // Bob got his ID, then the payload with its terminator.
//! let mut expected = bob.id().to_be_bytes().to_vec();
//! expected.extend_from_slice(b"hi\0");
//! assert_eq!(sockets[&bob], expected);
//!
//! /// One turn of the loop: do what the router asks.
//! fn drive(router: &mut Router, sockets: &mut HashMap<ConnHandle, Vec<u8>>, now: Instant) {
//!     while let Some(event) = router.poll_event() {
//!         match event {
//!             Event::Close(conn) => { sockets.remove(&conn); }
//!             Event::PauseReading(_) | Event::ResumeReading(_) | Event::Drained => {}
//!         }
//!     }
//!     while let Some(transmit) = router.poll_transmit() {
//!         let conn = transmit.conn;
//!         let mut slices = [IoSlice::new(&[]); 64];
//!         let n = transmit.io_slices(&mut slices);
//!         // A real driver: `socket.write_vectored(&slices[..n])`, which may
//!         // take only part; then `handle_write_blocked` on `WouldBlock`.
//!         let socket = sockets.get_mut(&conn).unwrap();
//!         let mut written = 0;
//!         for slice in &slices[..n] {
//!             socket.extend_from_slice(slice);
//!             written += slice.len();
//!         }
//!         router.handle_written(conn, written, now);
//!     }
//!     // A real driver sleeps in its poller until `router.poll_timeout()`.
//! }
//! ```
//!
//! # What it guarantees
//!
//! - **Whole frames, in order.** A destination receives each payload
//!   contiguously; frames from one sender to one destination keep their order.
//! - **No head-of-line blocking.** A destination's queue is bounded by
//!   [`Config::outbound_high_water`]: a sender to a full destination is paused
//!   ([`Event::PauseReading`]) with its frame held, losing nothing, until the
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
//! slices `poll_transmit` offers: a frame that arrives whole in one read is
//! copied straight into its destination's queue, where it coalesces with the
//! frames before it into one large write; a frame cut across reads is
//! reassembled in its sender's buffer and queued from there without a further
//! copy. Copying whole frames out of the read buffer, rather than queuing
//! slices of it, is deliberate: a slice would keep the sender's entire read
//! buffer alive for as long as the slowest destination holds one frame of it.
//!
//! # Peers: shards and nodes
//!
//! An ID's high bits may name the shard and node that own it ([`IdLayout`]).
//! A frame for an ID owned by another core goes to that core, a *peer*
//! ([`PeerId`]), in per-pair order and whole. The peer API is the client
//! API's twin, with a batch of records as its unit, so that a driver moves one
//! batch per loop turn through an in-process ring between shards, and a
//! cluster bridge publishes one batch per NATS message between nodes:
//!
//! - [`handle_peer_up`](Router::handle_peer_up) and
//!   [`handle_peer_down`](Router::handle_peer_down): the driver can, or can no
//!   longer, reach a peer;
//! - [`handle_peer_input`](Router::handle_peer_input): a batch arrived; it
//!   names its sender and is checked whole, as untrusted input;
//! - [`transmit_to_peers`](Router::transmit_to_peers): at most one batch per
//!   peer per call, which the driver takes or leaves for the next call.
//!
//! Batches carry frames, flow control (cumulative acknowledgements; at most
//! [`Config::peer_window`] in flight per link), `dest_full` and `dest_ready`
//! signals (a sender to a full destination on another core pauses, and
//! resumes when it drains or closes, exactly as for a local one), heartbeats
//! ([`Config::peer_timeout`]), per-link counts that reveal frames lost in
//! transit ([`DropCause::InTransit`]), the sender's incarnation
//! ([`Config::incarnation`]), and its ID layout, so that a core with another
//! layout is refused. [`peer::wire`] gives the format byte by byte. A peer
//! that is down, silent for `peer_timeout` or draining is unreachable: frames
//! for it are dropped and counted [`DropCause::NoRoute`], and senders waiting
//! on it resume; local traffic never waits for it.
//!
//! A lone router has no peers and pays nothing for them: its routing step
//! takes the remote branch only for IDs it does not own.
//!
//! ## Memory with peers
//!
//! Per connection, as before, about
//! `max_frame_bytes + outbound_high_water + max_frame_bytes`; a destination's
//! queue may exceed its high-water mark by the frames peers had in flight when
//! it filled, at most one window (plus one frame) per peer, and never more.
//! Per peer link, one window: the frames batched or in flight, at most
//! `peer_window` counting 9 bytes per frame, or one frame when a frame is
//! larger; plus its pause signals, a few bytes per destination.

#![forbid(unsafe_code)]

mod accept;
mod config;
mod conn;
mod event;
pub mod frame;
mod ids;
mod outbound;
pub mod peer;
mod router;
mod stats;
mod timers;

pub use config::{Config, ConfigError, OverflowPolicy};
pub use event::{AcceptError, ConnHandle, ConnInfo, Event, Transmit};
pub use ids::{IdLayout, IdLayoutError, Owner};
pub use peer::{PeerError, PeerId, PeerInfo};
pub use router::Router;
pub use stats::{CloseCause, DropCause, FrameCount, Stats};
