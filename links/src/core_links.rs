//! One core's links and doorbell, as its driver's loop uses them each turn.

use std::sync::Arc;
use std::time::Instant;

use router_core::{PeerId, Router};
use tracing::warn;

use crate::{Doorbell, PeerChange, PeerLinks};

/// What a driver holds for a core that has peers: its [`PeerLinks`] and the
/// [`Doorbell`] those links ring. The three calls of a turn are here, once
/// for every driver: [`take_in`](Self::take_in) while the turn runs,
/// [`before_wait`](Self::before_wait) when it would wait, and
/// [`after_wait`](Self::after_wait) when the wait returns.
pub struct CoreLinks {
    links: Box<dyn PeerLinks>,
    doorbell: Arc<Doorbell>,
}

impl CoreLinks {
    /// `links` into and out of a core whose loop `doorbell` wakes.
    pub fn new(links: Box<dyn PeerLinks>, doorbell: Arc<Doorbell>) -> Self {
        CoreLinks { links, doorbell }
    }

    /// Tells `router` of every change in its peers' reachability and hands
    /// it every batch that arrived, up to the links' bound. Returns whether
    /// anything came, or a link that refused a batch has room again: the
    /// router must then be driven.
    pub fn take_in(&mut self, router: &mut Router, now: Instant) -> bool {
        let mut news = false;
        while let Some(change) = self.links.poll_change() {
            news = true;
            match change {
                PeerChange::Up(peer) => {
                    // A link that names this core, or a core the layout
                    // cannot hold, is a bug of whoever built the links: the
                    // router refuses it, and it carries nothing.
                    if let Err(error) = router.handle_peer_up(peer, now) {
                        warn!(%error, "peer link refused");
                    }
                }
                PeerChange::Down(peer) => router.handle_peer_down(peer, now),
            }
        }
        let received = self
            .links
            .receive(&mut |batch| router.handle_peer_input(batch, now));
        news || received > 0 || self.links.has_room_again()
    }

    /// The loop is about to wait: from now on a delivery wakes it. Takes in
    /// what arrived since the turn's [`take_in`](Self::take_in), which no
    /// ring would have woken it for; if anything had, the loop is awake
    /// again and returns `true`, and must drive the router and not wait.
    pub fn before_wait(&mut self, router: &mut Router, now: Instant) -> bool {
        self.doorbell.sleep();
        let news = self.take_in(router, now);
        if news {
            self.doorbell.awake();
        }
        news
    }

    /// The wait returned: rings cost nothing until the next
    /// [`before_wait`](Self::before_wait).
    pub fn after_wait(&self) {
        self.doorbell.awake();
    }

    /// For [`Io::send_to_peer`](router_core::Io::send_to_peer): hands
    /// `batch` to the link to `peer`.
    pub fn send(&mut self, peer: PeerId, batch: &mut Vec<u8>) -> bool {
        self.links.send(peer, batch)
    }
}

impl std::fmt::Debug for CoreLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreLinks")
            .field("doorbell", &self.doorbell)
            .finish_non_exhaustive()
    }
}
