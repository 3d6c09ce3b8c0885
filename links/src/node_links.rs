//! One core's links to every peer of a cluster: the other shards of its node
//! through one set of links (rings), the cores of other nodes through
//! another (the NATS bridge).

use router_core::PeerId;

use crate::{PeerChange, PeerLinks};

/// The links of shard S of node K: peers of node K through `local`, every
/// other peer through `remote`.
pub struct NodeLinks {
    node: u32,
    local: Box<dyn PeerLinks>,
    remote: Box<dyn PeerLinks>,
    /// Which of the two `receive` asks first, alternating, so that neither
    /// starves the other of a turn's bound.
    remote_first: bool,
}

impl NodeLinks {
    /// Shard links of node `node`: `local` to its own shards, `remote` to
    /// other nodes.
    pub fn new(node: u32, local: Box<dyn PeerLinks>, remote: Box<dyn PeerLinks>) -> Self {
        NodeLinks {
            node,
            local,
            remote,
            remote_first: false,
        }
    }
}

impl PeerLinks for NodeLinks {
    fn poll_change(&mut self) -> Option<PeerChange> {
        self.local
            .poll_change()
            .or_else(|| self.remote.poll_change())
    }

    fn send(&mut self, peer: PeerId, batch: &mut Vec<u8>) -> bool {
        if peer.node == self.node {
            self.local.send(peer, batch)
        } else {
            self.remote.send(peer, batch)
        }
    }

    fn receive(&mut self, take: &mut dyn FnMut(&[u8])) -> usize {
        self.remote_first = !self.remote_first;
        let (first, second) = if self.remote_first {
            (&mut self.remote, &mut self.local)
        } else {
            (&mut self.local, &mut self.remote)
        };
        first.receive(take) + second.receive(take)
    }

    fn has_room_again(&mut self) -> bool {
        // Both asked: each clears its own news.
        let local = self.local.has_room_again();
        let remote = self.remote.has_room_again();
        local || remote
    }
}

impl std::fmt::Debug for NodeLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeLinks")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// Links that record what they were sent and hand out what they hold.
    #[derive(Default)]
    struct Recorder {
        sent: Vec<PeerId>,
        changes: VecDeque<PeerChange>,
        arrived: VecDeque<Vec<u8>>,
    }

    impl PeerLinks for std::sync::Arc<std::sync::Mutex<Recorder>> {
        fn poll_change(&mut self) -> Option<PeerChange> {
            self.lock().unwrap().changes.pop_front()
        }
        fn send(&mut self, peer: PeerId, _batch: &mut Vec<u8>) -> bool {
            self.lock().unwrap().sent.push(peer);
            true
        }
        fn receive(&mut self, take: &mut dyn FnMut(&[u8])) -> usize {
            let batches: Vec<_> = self.lock().unwrap().arrived.drain(..).collect();
            batches.iter().for_each(|batch| take(batch));
            batches.len()
        }
    }

    #[test]
    fn peers_of_this_node_go_local_and_others_remote() {
        let local = std::sync::Arc::new(std::sync::Mutex::new(Recorder::default()));
        let remote = std::sync::Arc::new(std::sync::Mutex::new(Recorder::default()));
        local
            .lock()
            .unwrap()
            .changes
            .push_back(PeerChange::Up(PeerId::new(2, 1)));
        remote
            .lock()
            .unwrap()
            .changes
            .push_back(PeerChange::Up(PeerId::new(0, 0)));
        remote
            .lock()
            .unwrap()
            .arrived
            .push_back(b"from afar".to_vec());
        local
            .lock()
            .unwrap()
            .arrived
            .push_back(b"from near".to_vec());
        let mut links = NodeLinks::new(2, Box::new(local.clone()), Box::new(remote.clone()));
        assert_eq!(links.poll_change(), Some(PeerChange::Up(PeerId::new(2, 1))));
        assert_eq!(links.poll_change(), Some(PeerChange::Up(PeerId::new(0, 0))));
        assert_eq!(links.poll_change(), None);
        assert!(links.send(PeerId::new(2, 1), &mut b"x".to_vec()));
        assert!(links.send(PeerId::new(3, 0), &mut b"y".to_vec()));
        assert_eq!(local.lock().unwrap().sent, [PeerId::new(2, 1)]);
        assert_eq!(remote.lock().unwrap().sent, [PeerId::new(3, 0)]);
        let mut got = Vec::new();
        assert_eq!(links.receive(&mut |batch| got.push(batch.to_vec())), 2);
        assert_eq!(got.len(), 2);
    }
}
