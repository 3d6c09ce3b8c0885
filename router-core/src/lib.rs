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
//!   buffer at all once its ID is written. All connections together hold at
//!   most about [`Config::max_buffered_bytes`]: past it the router discards
//!   the largest unfinished frames and closes their senders
//!   ([`CloseCause::MemoryBudget`]), and stops queuing to destinations that
//!   already have bytes queued, never giving up a frame it accepted.
//! - **Everything is counted.** Every frame dropped and every connection closed
//!   is counted by cause in [`Stats`].
//!
//! # Copies
//!
//! A payload is copied once between the driver's read buffer and the slices
//! [`Router::drive`] writes: a frame that arrives whole in one read is copied
//! straight into its destination's queue, where it coalesces with the frames
//! before it into one large write; a frame cut across reads is reassembled in
//! its sender's buffer and queued from there without a further copy. Copying
//! whole frames out of the read buffer, rather than queuing slices of it, is
//! deliberate: a slice would keep the sender's entire read buffer alive for
//! as long as the slowest destination holds one frame of it.
//!
//! The one exception is the rest of a read stashed while its sender is paused:
//! it is copied into the sender's buffer, and each frame is copied out of
//! that again when it resumes, for the same reason (one small frame held by
//! a slow destination would otherwise pin the whole stash). That second copy
//! happens only to senders that were paused, which are waiting anyway.
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
//! - [`Io::send_to_peer`]: [`drive`](Router::drive) hands the driver one
//!   batch per peer per call (cut to [`Config::max_batch_bytes`], the rest
//!   following at once), which the driver takes or leaves for the next call.
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
//! Here are two cores, shards 0 and 1 of one node, joined by queues where a
//! sharded driver has rings and a cluster bridge has NATS subjects:
//!
//! ```
//! use std::collections::{HashMap, VecDeque};
//! use std::io::{self, IoSlice};
//! use std::time::Instant;
//! use router_core::{Config, ConnHandle, IdLayout, Io, PeerId, Router};
//!
//! /// One core's sockets, and the batches it sends its peer.
//! #[derive(Default)]
//! struct Sockets {
//!     clients: HashMap<ConnHandle, Vec<u8>>,
//!     to_peer: VecDeque<Vec<u8>>,
//! }
//!
//! impl Io for Sockets {
//!     fn write(&mut self, conn: ConnHandle, slices: &[IoSlice<'_>]) -> io::Result<usize> {
//!         let socket = self.clients.entry(conn).or_default();
//!         slices.iter().for_each(|slice| socket.extend_from_slice(slice));
//!         Ok(slices.iter().map(|slice| slice.len()).sum())
//!     }
//!     fn close(&mut self, conn: ConnHandle) {
//!         self.clients.remove(&conn);
//!     }
//!     fn resume_reading(&mut self, _conn: ConnHandle) {}
//!     fn stop_listening(&mut self) {}
//!     // A sharded driver pushes onto its ring to that shard (and says
//!     // `false` when the ring is full); a bridge publishes on its subject.
//!     fn send_to_peer(&mut self, _peer: PeerId, batch: &mut Vec<u8>) -> bool {
//!         // Takes the buffer whole: the router builds its next batch in
//!         // the empty one left in its place.
//!         self.to_peer.push_back(std::mem::take(batch));
//!         true
//!     }
//! }
//!
//! // One bit of each ID names the shard that owns it.
//! let shard = |index| {
//!     let id_layout = IdLayout::new(0, 0, 1, index);
//!     Router::new(Config { id_layout, ..Config::default() }).unwrap()
//! };
//! let (mut zero, mut one) = (shard(0), shard(1));
//! let (mut io_zero, mut io_one) = (Sockets::default(), Sockets::default());
//! let now = Instant::now();
//! zero.handle_peer_up(PeerId::new(0, 1), now).unwrap();
//! one.handle_peer_up(PeerId::new(0, 0), now).unwrap();
//!
//! let alice = zero.handle_accept(now).unwrap();
//! let bob = one.handle_accept(now).unwrap();
//! // Alice, on shard 0, sends "hi" to Bob, on shard 1.
//! let mut frame = bob.id().to_be_bytes().to_vec();
//! frame.extend_from_slice(b"hi\0");
//! zero.handle_input(alice, &frame, now);
//!
//! // Each loop turn: drive, then give each core what its peer sent.
//! for _turn in 0..2 {
//!     zero.drive(now, &mut io_zero);
//!     one.drive(now, &mut io_one);
//!     for batch in io_zero.to_peer.drain(..) {
//!         one.handle_peer_input(&batch, now);
//!     }
//!     for batch in io_one.to_peer.drain(..) {
//!         zero.handle_peer_input(&batch, now);
//!     }
//! }
//!
//! // Bob got his ID, then the payload with its terminator.
//! assert_eq!(io_one.clients[&bob][4..], *b"hi\0");
//! assert_eq!(zero.stats().forwarded.frames, 1);
//! assert_eq!(one.stats().from_peers.frames, 1);
//! ```
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
mod budget;
mod config;
mod conn;
mod drive;
mod event;
pub mod frame;
mod ids;
mod log_limit;
mod outbound;
pub mod peer;
mod router;
mod stats;
mod timers;

pub use config::{
    Config, ConfigError, Limit, LimitKind, LimitValue, OverflowPolicy, WrongKind,
    largest_frame_in_batch,
};
pub use drive::{Io, MAX_IO_SLICES};
pub use event::{AcceptError, ConnHandle, ConnInfo};
pub use ids::{IdLayout, IdLayoutError, Owner};
pub use log_limit::{LOG_INTERVAL, LogLimit};
pub use peer::{PeerError, PeerId, PeerInfo};
pub use router::Router;
pub use stats::{CloseCause, DropCause, FrameCount, Stats};
