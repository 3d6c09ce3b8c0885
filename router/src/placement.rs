//! Placement: which shard accepts the next connection from the listener
//! they share.
//!
//! Every shard polls the one listening socket; only the shard whose turn
//! it is accepts. With each connection it accepts (or refuses, when full),
//! it passes the turn to the shard with the most room left under its share
//! of `max_connections` (ties go round-robin, from the shard after it), and
//! rings that shard's doorbell. Shares differ by one at most, so this is
//! least-loaded first: connections are never more than one apart while
//! none closes, and clients that connect one after the other alternate
//! between shards, which is also what makes a pair of them cross shards.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use router_links::{AcceptGate, Doorbell};

/// The turn and the loads, shared by every shard's [`ShardGate`].
#[derive(Debug)]
pub(crate) struct Placement {
    turn: AtomicUsize,
    /// Each shard's open connections, as its loop last published them.
    loads: Vec<AtomicU64>,
    /// Each shard's `max_connections`.
    shares: Vec<u64>,
    doorbells: Vec<Arc<Doorbell>>,
}

impl Placement {
    /// Placement over the shards that `doorbells` wake, shard 0 first,
    /// each holding at most its `shares` of connections.
    pub(crate) fn new(doorbells: Vec<Arc<Doorbell>>, shares: Vec<u64>) -> Arc<Self> {
        Arc::new(Placement {
            turn: AtomicUsize::new(0),
            loads: doorbells.iter().map(|_| AtomicU64::new(0)).collect(),
            shares,
            doorbells,
        })
    }

    /// Shard `shard`'s gate.
    pub(crate) fn gate(self: &Arc<Self>, shard: usize) -> ShardGate {
        ShardGate {
            shard,
            placement: self.clone(),
        }
    }

    /// The shard with the most room, the first after `after` among equals.
    fn least_loaded(&self, after: usize) -> usize {
        let shards = self.loads.len();
        let room = |shard: usize| {
            let load = self.loads[shard].load(Ordering::Relaxed);
            self.shares[shard].saturating_sub(load)
        };
        // `max_by_key` keeps the last of equals: go round the other way.
        (1..=shards)
            .rev()
            .map(|step| (after + step) % shards)
            .max_by_key(|&shard| room(shard))
            .unwrap_or(after)
    }
}

/// One shard's view of the [`Placement`].
#[derive(Debug)]
pub(crate) struct ShardGate {
    shard: usize,
    placement: Arc<Placement>,
}

impl AcceptGate for ShardGate {
    fn my_turn(&self) -> bool {
        self.placement.turn.load(Ordering::SeqCst) == self.shard
    }

    fn took_turn(&self, open: u64) {
        let placement = &self.placement;
        placement.loads[self.shard].store(open, Ordering::Relaxed);
        let next = placement.least_loaded(self.shard);
        // The turn first, then the ring: the next shard, awake or woken,
        // finds it its turn.
        placement.turn.store(next, Ordering::SeqCst);
        if next != self.shard {
            placement.doorbells[next].ring();
        }
    }

    fn load(&self, open: u64) {
        self.placement.loads[self.shard].store(open, Ordering::Relaxed);
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

    fn gates(shards: usize) -> (Vec<ShardGate>, Vec<Arc<Doorbell>>) {
        let doorbells: Vec<_> = (0..shards)
            .map(|_| Arc::new(Doorbell::new(Box::new(Nobody))))
            .collect();
        let placement = Placement::new(doorbells.clone(), vec![1000; shards]);
        ((0..shards).map(|i| placement.gate(i)).collect(), doorbells)
    }

    /// Accepts `count` connections, each on the shard whose turn it is;
    /// returns each shard's open connections.
    fn accept(gates: &[ShardGate], open: &mut [u64], count: usize) {
        for _ in 0..count {
            let shard = gates.iter().position(|g| g.my_turn()).expect("one turn");
            assert_eq!(gates.iter().filter(|g| g.my_turn()).count(), 1);
            open[shard] += 1;
            gates[shard].took_turn(open[shard]);
        }
    }

    #[test]
    fn connections_one_after_another_alternate_between_shards() {
        let (gates, _) = gates(2);
        let mut open = [0; 2];
        for accepted in 1..=6 {
            let shard = gates.iter().position(|g| g.my_turn()).unwrap();
            assert_eq!(shard, (accepted - 1) % 2, "connection {accepted}");
            accept(&gates, &mut open, 1);
        }
        assert_eq!(open, [3, 3]);
    }

    #[test]
    fn the_least_loaded_shard_takes_the_next_connections() {
        let (gates, _) = gates(3);
        let mut open = [0; 3];
        accept(&gates, &mut open, 9);
        assert_eq!(open, [3, 3, 3]);
        // Shard 1 loses two clients: once the turn already given to shard 0
        // is used, the next two connections are shard 1's.
        open[1] -= 2;
        gates[1].load(open[1]);
        accept(&gates, &mut open, 3);
        assert_eq!(open, [4, 3, 3]);
    }

    #[test]
    fn a_full_shard_is_passed_over_while_another_has_room() {
        let doorbells: Vec<_> = (0..2)
            .map(|_| Arc::new(Doorbell::new(Box::new(Nobody))))
            .collect();
        // Three connections over two shards: shares of two and one.
        let placement = Placement::new(doorbells, vec![2, 1]);
        let gates: Vec<_> = (0..2).map(|i| placement.gate(i)).collect();
        let mut open = [0; 2];
        accept(&gates, &mut open, 3);
        assert_eq!(open, [2, 1]);
        // Shard 0 loses one: the next connection is its, though it was
        // shard 1's turn by rotation.
        open[0] -= 1;
        gates[0].load(open[0]);
        gates[1].took_turn(open[1]);
        assert!(gates[0].my_turn());
    }

    #[test]
    fn passing_the_turn_wakes_the_shard_it_goes_to() {
        let (gates, doorbells) = gates(2);
        doorbells[1].sleep();
        gates[0].took_turn(1);
        assert!(gates[1].my_turn());
        assert_eq!(doorbells[1].wakeups(), 1);
        doorbells[0].sleep();
        gates[1].took_turn(1);
        assert_eq!(doorbells[0].wakeups(), 1);
    }
}
