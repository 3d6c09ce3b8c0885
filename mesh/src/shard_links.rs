//! One shard's rings: out to every other shard, and in from each.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use router_core::PeerId;
use router_links::{Doorbell, PeerChange, PeerLinks};
use rtrb::{Consumer, Producer, RingBuffer};

/// Batches one [`receive`](PeerLinks::receive) hands over at most, from all
/// peers together, so that a turn of the loop stays short however busy its
/// peers are.
pub const RECEIVE_PER_TURN: usize = 64;

/// The ring to one peer shard, and that shard's doorbell.
struct Outgoing {
    peer: PeerId,
    ring: Producer<Vec<u8>>,
    doorbell: Arc<Doorbell>,
    /// Reported `Down` since its loop ended.
    down: bool,
    /// The ring was full for the last batch offered: the router holds it
    /// until told there is room ([`PeerLinks::has_room_again`]), and the
    /// peer rings this shard when it frees a slot.
    refused: Arc<AtomicBool>,
}

/// The ring from one peer shard, and that shard's doorbell, rung when a
/// full ring gets room again: the peer may sleep holding a batch for it.
struct Incoming {
    ring: Consumer<Vec<u8>>,
    sender_doorbell: Arc<Doorbell>,
    /// The sender's [`Outgoing::refused`].
    sender_refused: Arc<AtomicBool>,
}

/// One shard's [`PeerLinks`]: the rings to and from every other shard of
/// its node. `outgoing[i]` and `incoming[i]` are the rings to and from the
/// same peer.
pub struct ShardLinks {
    outgoing: Vec<Outgoing>,
    incoming: Vec<Incoming>,
    /// Where the next `receive` starts, so that no peer's ring always comes
    /// first when the turn's bound cuts it short.
    next_incoming: usize,
    changes: VecDeque<PeerChange>,
}

/// The links of `doorbells.len()` shards of node `node`, shard `i` woken
/// by `doorbells[i]`, with `ring_slots` batches of room on each ring (at
/// least one). Returns shard `i`'s links at index `i`.
pub fn mesh(node: u32, doorbells: Vec<Arc<Doorbell>>, ring_slots: usize) -> Vec<ShardLinks> {
    let shards = doorbells.len();
    let mut links: Vec<ShardLinks> = (0..shards)
        .map(|_| ShardLinks {
            outgoing: Vec::with_capacity(shards.saturating_sub(1)),
            incoming: Vec::with_capacity(shards.saturating_sub(1)),
            next_incoming: 0,
            changes: VecDeque::new(),
        })
        .collect();
    for from in 0..shards {
        for to in (0..shards).filter(|&to| to != from) {
            let (producer, consumer) = RingBuffer::new(ring_slots.max(1));
            let peer = PeerId::new(node, to as u32);
            let refused = Arc::new(AtomicBool::new(false));
            links[from].outgoing.push(Outgoing {
                peer,
                ring: producer,
                doorbell: doorbells[to].clone(),
                down: false,
                refused: refused.clone(),
            });
            links[from].changes.push_back(PeerChange::Up(peer));
            links[to].incoming.push(Incoming {
                ring: consumer,
                sender_doorbell: doorbells[from].clone(),
                sender_refused: refused,
            });
        }
    }
    links
}

impl ShardLinks {
    fn outgoing(&mut self, peer: PeerId) -> Option<&mut Outgoing> {
        self.outgoing.iter_mut().find(|out| out.peer == peer)
    }
}

impl PeerLinks for ShardLinks {
    /// Every peer `Up` at first; a peer `Down` once its loop has ended and
    /// dropped its links and every batch it sent has been received, so
    /// that frames for it are counted `no_route` rather than wait.
    fn poll_change(&mut self) -> Option<PeerChange> {
        if let Some(change) = self.changes.pop_front() {
            return Some(change);
        }
        // Ended, and every batch it sent before it ended taken: those are
        // the router's to deliver, not to count lost.
        let (ended, _) = (self.outgoing.iter_mut())
            .zip(&self.incoming)
            .find(|(out, from)| {
                !out.down
                    && out.ring.is_abandoned()
                    && from.ring.is_abandoned()
                    && from.ring.is_empty()
            })?;
        ended.down = true;
        Some(PeerChange::Down(ended.peer))
    }

    fn send(&mut self, peer: PeerId, batch: &[u8]) -> bool {
        let Some(out) = self.outgoing(peer) else {
            return false;
        };
        if out.ring.is_abandoned() {
            return false;
        }
        if out.ring.is_full() {
            out.refused.store(true, Ordering::SeqCst);
            return false;
        }
        out.refused.store(false, Ordering::Relaxed);
        let pushed = out.ring.push(batch.to_vec()).is_ok();
        out.doorbell.ring();
        pushed
    }

    fn receive(&mut self, take: &mut dyn FnMut(&[u8])) -> usize {
        let rings = self.incoming.len();
        let mut taken = 0;
        // Round-robin, one batch per peer at a time, until every ring is
        // empty or the bound is reached.
        let mut empty_in_a_row = 0;
        while taken < RECEIVE_PER_TURN && empty_in_a_row < rings {
            let from = &mut self.incoming[self.next_incoming];
            self.next_incoming = (self.next_incoming + 1) % rings;
            match from.ring.pop() {
                Ok(batch) => {
                    if from.sender_refused.load(Ordering::SeqCst) {
                        from.sender_doorbell.ring();
                    }
                    take(&batch);
                    taken += 1;
                    empty_in_a_row = 0;
                }
                Err(_) => empty_in_a_row += 1,
            }
        }
        taken
    }

    /// The order (a refused sender notes it, then sleeps, then looks here;
    /// a receiver frees a slot, then rings the sender if it was refused)
    /// means a sender never sleeps holding a batch that a ring has room for.
    fn has_room_again(&mut self) -> bool {
        self.outgoing
            .iter()
            .any(|out| out.refused.load(Ordering::SeqCst) && out.ring.slots() > 0)
    }
}

impl std::fmt::Debug for ShardLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardLinks")
            .field(
                "peers",
                &self.outgoing.iter().map(|o| o.peer).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}
