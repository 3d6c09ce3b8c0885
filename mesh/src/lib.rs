//! The links between the shards of one router process: one bounded
//! single-producer single-consumer ring per ordered pair of shards, one
//! batch per slot.
//!
//! [`mesh`] builds them for `N` shards and hands back one [`ShardLinks`] per
//! shard, the [`PeerLinks`](router_links::PeerLinks) its driver moves
//! batches through. Sending pushes the batch onto the ring to the peer and
//! rings the peer's [`Doorbell`](router_links::Doorbell), which wakes the
//! peer's loop only if it sleeps. A full ring refuses the batch (`send`
//! returns `false`) and the router keeps it for a later turn: nothing ever
//! blocks a loop, and what is in flight is bounded twice, by the router's
//! `peer_window` and by the ring's slots.
//!
//! A batch travels as the router's own buffer, not a copy: the receiving
//! shard hands the buffer back, emptied, on a second ring beside the first,
//! and the sender gives it to its router for a later batch in place of the
//! one it took. Steady traffic between shards thus copies no batch and
//! allocates none; what is kept for reuse is bounded by [`SPARE_BUFFERS`]
//! and [`KEEP_BUFFER_CAPACITY`].
//!
//! ```
//! use std::sync::Arc;
//! use router_core::PeerId;
//! use router_links::{Doorbell, PeerChange, PeerLinks, Wake};
//!
//! struct Nobody;
//! impl Wake for Nobody {
//!     fn wake(&self) {}
//! }
//!
//! let doorbells = (0..2).map(|_| Arc::new(Doorbell::new(Box::new(Nobody)))).collect();
//! let [mut zero, mut one]: [_; 2] = router_mesh::mesh(0, doorbells, 64).try_into().unwrap();
//! assert_eq!(zero.poll_change(), Some(PeerChange::Up(PeerId::new(0, 1))));
//! let mut batch = b"a batch".to_vec();
//! assert!(zero.send(PeerId::new(0, 1), &mut batch));
//! assert!(batch.is_empty(), "the ring took the buffer, and left another");
//! let mut got = Vec::new();
//! assert_eq!(one.receive(&mut |batch| got.push(batch.to_vec())), 1);
//! assert_eq!(got, [b"a batch".to_vec()]);
//! ```

mod shard_links;

pub use shard_links::{KEEP_BUFFER_CAPACITY, RECEIVE_PER_TURN, SPARE_BUFFERS, ShardLinks, mesh};
