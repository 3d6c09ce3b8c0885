//! The seam between one router core's event loop and the links that carry
//! batches to and from its peer cores: the rings between shards of one
//! process, and the NATS bridge between nodes.
//!
//! A driver holds one [`PeerLinks`] per core it runs and moves bytes through
//! it, deciding nothing: each turn it reports [`PeerChange`]s to
//! [`Router::handle_peer_up`](router_core::Router::handle_peer_up) and
//! [`handle_peer_down`](router_core::Router::handle_peer_down), hands every
//! batch [`received`](PeerLinks::receive) to
//! [`Router::handle_peer_input`](router_core::Router::handle_peer_input), and
//! implements [`Io::send_to_peer`](router_core::Io::send_to_peer) with
//! [`PeerLinks::send`]. Flow control is the core's (`peer_window`), so a link
//! may refuse a batch whenever it is full, and no link ever blocks the loop.
//!
//! A loop that sleeps must be woken when a batch arrives for it, and only
//! then: every link into one core rings that core's [`Doorbell`], which wakes
//! the loop only if it is asleep, and counts the wake-ups it cost.
//!
//! The doorbell's hand-off (a loop about to sleep against a link
//! delivering) is checked under every interleaving [loom] explores, with
//! loom's atomics in place of the standard ones:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p router-links --release --test loom_doorbell
//! ```
//!
//! [loom]: https://docs.rs/loom

mod accept_gate;
mod core_links;
mod doorbell;
mod node_links;
mod peer_links;

pub use accept_gate::AcceptGate;
pub use core_links::CoreLinks;
pub use doorbell::{Doorbell, Wake};
pub use node_links::NodeLinks;
pub use peer_links::{PeerChange, PeerLinks};
