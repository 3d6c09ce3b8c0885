//! One shard's rings: out to every other shard, and in from each.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering, fence};

use router_core::PeerId;
use router_links::{Doorbell, PeerChange, PeerLinks};
use rtrb::{Consumer, Producer, PushError, RingBuffer};

/// Batches one [`receive`](PeerLinks::receive) hands over at most, from all
/// peers together, so that a turn of the loop stays short however busy its
/// peers are.
pub const RECEIVE_PER_TURN: usize = 64;

/// Emptied batch buffers a shard holds for each peer to reuse, at most:
/// more than a few turns' worth of batches in flight is a burst, and the
/// buffers past this are freed rather than kept for the next one.
pub const SPARE_BUFFERS: usize = 32;

/// A buffer larger than this is freed once its batch is taken, rather than
/// handed back: one burst's large batch should not stay as idle heap. With
/// [`SPARE_BUFFERS`], this bounds what a pair of shards keeps for reuse to
/// 2 MiB each way.
pub const KEEP_BUFFER_CAPACITY: usize = 64 * 1024;

/// The ring to one peer shard, and that shard's doorbell.
struct Outgoing {
    peer: PeerId,
    ring: Producer<Vec<u8>>,
    /// The buffers of batches the peer has taken, emptied, for the next
    /// batches to this peer.
    spares: Consumer<Vec<u8>>,
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
    /// Where the buffer of each batch taken goes back to its sender.
    spares: Producer<Vec<u8>>,
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
            let (spares_back, spares) = RingBuffer::new(SPARE_BUFFERS);
            let peer = PeerId::new(node, to as u32);
            let refused = Arc::new(AtomicBool::new(false));
            links[from].outgoing.push(Outgoing {
                peer,
                ring: producer,
                spares,
                doorbell: doorbells[to].clone(),
                down: false,
                refused: refused.clone(),
            });
            links[from].changes.push_back(PeerChange::Up(peer));
            links[to].incoming.push(Incoming {
                ring: consumer,
                spares: spares_back,
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

    /// Takes the router's buffer whole onto the ring, and leaves in its
    /// place one the peer has emptied (a new, empty one if it has none to
    /// spare): the batch's bytes are not copied, and in steady traffic no
    /// buffer is allocated.
    fn send(&mut self, peer: PeerId, batch: &mut Vec<u8>) -> bool {
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
        let spare = out.spares.pop().unwrap_or_default();
        if let Err(PushError::Full(full)) = out.ring.push(std::mem::replace(batch, spare)) {
            // Not after `is_full` said otherwise, this being the only
            // producer; but the batch stays the router's if it happens.
            *batch = full;
            return false;
        }
        out.doorbell.ring();
        true
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
                Ok(mut batch) => {
                    // Freed a slot, then looks at the flag; the sender flags,
                    // then looks at the slots (`has_room_again`). The fences
                    // order each side's two steps, which are on different
                    // atomics: one of the two sees the other.
                    fence(Ordering::SeqCst);
                    if from.sender_refused.load(Ordering::SeqCst) {
                        from.sender_doorbell.ring();
                    }
                    take(&batch);
                    batch.clear();
                    if batch.capacity() <= KEEP_BUFFER_CAPACITY {
                        // If the sender holds enough spares, this one is
                        // freed here.
                        let _ = from.spares.push(batch);
                    }
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
        fence(Ordering::SeqCst);
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

#[cfg(test)]
mod tests {
    use router_links::Wake;

    use super::*;

    struct Nobody;

    impl Wake for Nobody {
        fn wake(&self) {}
    }

    fn two_shards() -> (ShardLinks, ShardLinks) {
        let doorbells = (0..2)
            .map(|_| Arc::new(Doorbell::new(Box::new(Nobody))))
            .collect();
        let mut links = mesh(0, doorbells, 4);
        let one = links.pop().unwrap();
        (links.pop().unwrap(), one)
    }

    const ONE: PeerId = PeerId::new(0, 1);

    #[test]
    fn a_batch_buffer_comes_back_to_its_sender_for_a_later_batch() {
        let (mut zero, mut one) = two_shards();
        let mut batch = Vec::with_capacity(1000);
        batch.extend_from_slice(b"first");
        let first_buffer = batch.as_ptr();
        assert!(zero.send(ONE, &mut batch));
        assert_eq!(batch.capacity(), 0, "no spare yet: a new, empty one");
        let mut got = Vec::new();
        assert_eq!(one.receive(&mut |b| got.push(b.to_vec())), 1);
        assert_eq!(got, [b"first".to_vec()]);

        batch.extend_from_slice(b"second");
        assert!(zero.send(ONE, &mut batch));
        assert_eq!(batch.as_ptr(), first_buffer, "the first batch's buffer");
        assert!(batch.is_empty(), "emptied");
        assert_eq!(batch.capacity(), 1000);
    }

    #[test]
    fn a_large_buffer_is_freed_rather_than_kept() {
        let (mut zero, mut one) = two_shards();
        let mut batch = vec![1; KEEP_BUFFER_CAPACITY + 1];
        assert!(zero.send(ONE, &mut batch));
        assert_eq!(one.receive(&mut |_| {}), 1);
        batch.push(2);
        assert!(zero.send(ONE, &mut batch));
        assert_eq!(batch.capacity(), 0, "nothing came back");
    }

    #[test]
    fn a_refused_batch_stays_with_the_router_untouched() {
        let (mut zero, _one) = two_shards();
        for n in 0..4 {
            assert!(zero.send(ONE, &mut vec![n]));
        }
        let mut batch = b"fifth".to_vec();
        let buffer = batch.as_ptr();
        assert!(!zero.send(ONE, &mut batch), "the ring is full");
        assert_eq!((batch.as_slice(), batch.as_ptr()), (&b"fifth"[..], buffer));
    }
}
