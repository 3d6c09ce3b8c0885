//! Streams of numbered frames of varied sizes between clients of the test
//! nodes, checked whole and in order at the other end.

use std::time::Duration;

use router_core::ConnHandle;

use crate::support::World;

/// `count` frames of varied sizes (up to `max_len`) for `dest`: the bytes a
/// client writes, and what the destination must read.
pub fn stream_for(dest: u32, tag: &str, count: usize, max_len: usize) -> (Vec<u8>, Vec<u8>) {
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    for n in 0..count {
        let filler = "x".repeat(n * 131 % max_len);
        let payload = format!("{tag} {n} {filler}");
        router_client::encode_frame(dest, payload.as_bytes(), &mut stream).expect("no 0x00");
        expected.extend_from_slice(payload.as_bytes());
        expected.push(0);
    }
    (stream, expected)
}

/// A stream under way: its destination, and what it must read.
pub struct Stream {
    node: usize,
    to: ConnHandle,
    expected: Vec<u8>,
}

impl World {
    /// For each `(from_node, to_node)`, a new client on each, the first
    /// writing `count` frames to the second.
    pub fn start_streams(
        &mut self,
        routes: &[(usize, usize)],
        count: usize,
        max_len: usize,
    ) -> Vec<Stream> {
        routes
            .iter()
            .map(|&(from_node, to_node)| {
                let from = self.connect(from_node);
                let to = self.connect(to_node);
                let tag = format!("{from_node}->{to_node} {from:?}");
                let (stream, expected) = stream_for(to.id(), &tag, count, max_len);
                self.write(from_node, from, &stream);
                Stream {
                    node: to_node,
                    to,
                    expected,
                }
            })
            .collect()
    }

    /// The protocol's reference exchange between a client of node `a` and
    /// one of node `b`.
    pub fn reference_exchange(&mut self, a: usize, b: usize) {
        const WAIT: Duration = Duration::from_secs(10);
        let one = self.connect(a);
        let two = self.connect(b);
        self.send(a, one, two.id(), b"hello, number 2");
        self.run_until("number 2's frame", WAIT, |w| !w.received(b, two).is_empty());
        assert_eq!(self.received(b, two), b"hello, number 2\0");
        self.send(b, two, one.id(), b"hello back, number 1");
        self.run_until("number 1's frame", WAIT, |w| !w.received(a, one).is_empty());
        assert_eq!(self.received(a, one), b"hello back, number 1\0");
    }

    /// Waits until every stream is read, and checks it whole and in order.
    pub fn finish_streams(&mut self, streams: &[Stream], within: Duration) {
        self.run_until("every stream", within, |w| {
            streams
                .iter()
                .all(|s| w.received(s.node, s.to).len() >= s.expected.len())
        });
        for s in streams {
            assert!(
                self.received(s.node, s.to) == &s.expected[..],
                "whole and in order"
            );
        }
    }
}
