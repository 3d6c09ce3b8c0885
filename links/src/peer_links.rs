//! What a driver needs of the links to its core's peers.

use router_core::PeerId;

/// A peer core became reachable or unreachable, for the driver to tell its
/// router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerChange {
    /// Report it with [`Router::handle_peer_up`](router_core::Router::handle_peer_up).
    Up(PeerId),
    /// Report it with [`Router::handle_peer_down`](router_core::Router::handle_peer_down).
    Down(PeerId),
}

/// The links from one router core to all of its peers, as its driver sees
/// them. Every method returns at once.
pub trait PeerLinks: Send {
    /// The next change in a peer's reachability since the last call, if any.
    /// A link reports each of its peers `Up` once before carrying anything
    /// for it.
    fn poll_change(&mut self) -> Option<PeerChange>;

    /// Hands `batch` to the link that reaches `peer`, and rings the peer's
    /// doorbell if it is in this process. `false` if the link cannot take it
    /// now (full, or not connected): the router keeps the batch, untouched,
    /// and offers it again later.
    ///
    /// `batch` is the router's buffer, holding the batch and nothing else
    /// (see [`Io::send_to_peer`](router_core::Io::send_to_peer)). A link
    /// that takes the batch may take the buffer too, leaving an empty one in
    /// its place, ideally one its peer has handed back, so that batches are
    /// neither copied nor allocated; or it may copy the bytes and leave the
    /// buffer as it was.
    fn send(&mut self, peer: PeerId, batch: &mut Vec<u8>) -> bool;

    /// Hands every batch that has arrived for this core, in arrival order per
    /// peer, to `take`, up to a bound of the link's own so that one turn of
    /// the loop stays short; returns how many it handed over. Call it again
    /// on the next turn if it returned its bound.
    fn receive(&mut self, take: &mut dyn FnMut(&[u8])) -> usize;

    /// Whether a link that refused a batch for want of room has room again:
    /// the driver then drives the router, which offers the batch again,
    /// rather than wait. A link that refuses for want of room must also
    /// ring this core's doorbell when room comes, since the core may sleep
    /// with the batch. The default, for links that never fill: `false`.
    fn has_room_again(&mut self) -> bool {
        false
    }
}
