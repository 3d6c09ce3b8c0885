//! Frames routed per second through the core alone: `handle_input`, then a
//! `drive` through sockets that take every byte offered.
//! No sockets, so this is the ceiling a driver's syscalls subtract from.
//!
//! Each sender feeds its stream of frames to its own destination in 64 KiB
//! reads, the size a driver's scratch buffer hands over, so a read holds many
//! frames and cuts the last one (the reassembly path is measured in its real
//! proportion). The senders take turns read by read, as a poller's ready list
//! would serve them. One iteration feeds every sender its whole stream; the
//! counters are the frames and the wire bytes (headers included) fed in.
//!
//! A second benchmark feeds one frame per read instead, and a third,
//! `across_shards`, routes the same streams from one shard's core to
//! another's: the sender's core batches, the destination's core takes the
//! batch, so the pair `route` / `across_shards` is what crossing costs the
//! cores (without the rings and wake-ups of the threads around them).
//!
//! Run with `cargo bench -p router-core --bench routing`.

use std::time::Instant;

use std::io::{self, IoSlice};

use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use router_core::{Config, ConnHandle, IdLayout, Io, PeerId, Router};
use router_sim::Sink;

fn main() {
    divan::main();
}

/// What one read from a socket hands the core.
const READ_SIZE: usize = 64 * 1024;
/// Reads of each sender's stream per iteration.
const READS_PER_SENDER: usize = 4;

#[divan::bench(consts = [64, 1024], args = [1, 16, 256])]
fn route<const PAYLOAD: usize>(bencher: Bencher, pairs: usize) {
    let mut traffic = Traffic::new(pairs, PAYLOAD);
    bencher
        .counter(ItemsCount::new(traffic.frames_per_round))
        .counter(BytesCount::new(traffic.bytes_per_round))
        .bench_local(|| traffic.round());
}

/// The opposite extreme: chat-like traffic where every read holds a single
/// 64-byte frame, so the per-call costs (decode setup, queue bookkeeping, the
/// transmit round trip) dominate rather than copying and scanning.
#[divan::bench(args = [1, 256])]
fn one_frame_per_read(bencher: Bencher, pairs: usize) {
    let mut traffic = Traffic::new(pairs, 64);
    let frames: Vec<(ConnHandle, Vec<u8>)> = traffic
        .senders
        .iter()
        .map(|(sender, reads)| (*sender, reads[0][..4 + 64 + 1].to_vec()))
        .collect();
    bencher
        .counter(ItemsCount::new(pairs))
        .counter(BytesCount::new(pairs * frames[0].1.len()))
        .bench_local(|| {
            for (sender, frame) in &frames {
                traffic.router.handle_input(*sender, frame, traffic.now);
                traffic.router.drive(traffic.now, &mut Sink);
            }
        });
}

#[divan::bench(consts = [64, 1024], args = [1, 16, 256])]
fn across_shards<const PAYLOAD: usize>(bencher: Bencher, pairs: usize) {
    let mut shards = TwoShards::new(pairs, PAYLOAD);
    // Every frame crosses, none waits: the window never closes on the bench.
    shards.round();
    let frames = shards.traffic.frames_per_round as u64;
    assert_eq!(shards.destinations.stats().from_peers.frames, frames);
    assert_eq!(shards.destinations.stats().routed.frames, frames);
    assert_eq!(shards.traffic.router.stats().sender_pauses, 0);
    bencher
        .counter(ItemsCount::new(shards.traffic.frames_per_round))
        .counter(BytesCount::new(shards.traffic.bytes_per_round))
        .bench_local(|| shards.round());
}

/// A router with `pairs` sender/destination pairs, and each sender's stream
/// cut into reads.
struct Traffic {
    router: Router,
    now: Instant,
    senders: Vec<(ConnHandle, Vec<Vec<u8>>)>,
    frames_per_round: usize,
    bytes_per_round: usize,
}

impl Traffic {
    fn new(pairs: usize, payload: usize) -> Self {
        let mut router = Router::new(Config::default()).expect("default config");
        let now = Instant::now();
        let conns: Vec<(ConnHandle, ConnHandle)> = (0..pairs)
            .map(|_| {
                let sender = router.handle_accept(now).expect("below the limit");
                let dest = router.handle_accept(now).expect("below the limit");
                (sender, dest)
            })
            .collect();
        router.drive(now, &mut Sink); // The IDs.
        Traffic::with_streams(router, now, &conns, payload)
    }

    /// `router`, with each sender of `pairs` given its stream of frames to
    /// its destination.
    fn with_streams(
        router: Router,
        now: Instant,
        pairs: &[(ConnHandle, ConnHandle)],
        payload: usize,
    ) -> Self {
        let frame_len = 4 + payload + 1;
        let frames_per_sender = READS_PER_SENDER * READ_SIZE / frame_len;
        let senders = pairs
            .iter()
            .map(|&(sender, dest)| {
                let mut frame = Vec::new();
                router_client::encode_frame(dest.id(), &vec![b'x'; payload], &mut frame)
                    .expect("no 0x00 in the payload");
                let stream = frame.repeat(frames_per_sender);
                let reads = stream.chunks(READ_SIZE).map(<[u8]>::to_vec).collect();
                (sender, reads)
            })
            .collect();
        Traffic {
            router,
            now,
            senders,
            frames_per_round: pairs.len() * frames_per_sender,
            bytes_per_round: pairs.len() * frames_per_sender * frame_len,
        }
    }

    /// Feeds every sender's stream, read by read, draining after each.
    fn round(&mut self) {
        for read in 0..READS_PER_SENDER {
            for (sender, reads) in &self.senders {
                self.router.handle_input(*sender, &reads[read], self.now);
                self.router.drive(self.now, &mut Sink);
            }
        }
    }
}

/// Two shard cores of one process: every sender on shard 0, every
/// destination on shard 1, and the batches between them carried by hand, as
/// the ring between two loops would.
struct TwoShards {
    /// Shard 0 and the senders' streams.
    traffic: Traffic,
    destinations: Router,
    /// Batches shard 0 handed over, and the buffers shard 1 has finished with.
    link: Carry,
}

impl TwoShards {
    fn new(pairs: usize, payload: usize) -> Self {
        let now = Instant::now();
        let shard = |index| {
            let config = Config {
                id_layout: IdLayout::new(0, 0, 1, index),
                ..Config::default()
            };
            let mut router = Router::new(config).expect("a two-shard layout");
            router
                .handle_peer_up(PeerId::new(0, 1 - index), now)
                .expect("a peer in the layout");
            router
        };
        let mut senders = shard(0);
        let mut destinations = shard(1);
        let conns: Vec<(ConnHandle, ConnHandle)> = (0..pairs)
            .map(|_| {
                let sender = senders.handle_accept(now).expect("below the limit");
                let dest = destinations.handle_accept(now).expect("below the limit");
                (sender, dest)
            })
            .collect();
        senders.drive(now, &mut Sink);
        destinations.drive(now, &mut Sink);
        let traffic = Traffic::with_streams(senders, now, &conns, payload);
        TwoShards {
            traffic,
            destinations,
            link: Carry::default(),
        }
    }

    /// Feeds every sender's stream, read by read; after each read, shard 0
    /// hands its batch over and shard 1 takes it and writes it out (the
    /// acknowledgements it sends back are taken too, so the window never
    /// closes).
    fn round(&mut self) {
        let now = self.traffic.now;
        for read in 0..READS_PER_SENDER {
            for (sender, reads) in &self.traffic.senders {
                self.traffic.router.handle_input(*sender, &reads[read], now);
                self.traffic.router.drive(now, &mut self.link);
                self.link.deliver(&mut self.destinations, now);
                self.destinations.drive(now, &mut self.link);
                self.link.deliver(&mut self.traffic.router, now);
            }
        }
    }
}

/// An [`Io`] whose sockets take every byte, and whose peer link takes every
/// batch by swapping in a spare buffer, as the shard rings do.
#[derive(Default)]
struct Carry {
    in_flight: Vec<Vec<u8>>,
    spare: Vec<Vec<u8>>,
}

impl Carry {
    /// Hands the batches in flight to `to`, and keeps their buffers.
    fn deliver(&mut self, to: &mut Router, now: Instant) {
        for batch in self.in_flight.drain(..) {
            to.handle_peer_input(&batch, now);
            self.spare.push(batch);
        }
    }
}

impl Io for Carry {
    fn write(&mut self, conn: ConnHandle, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        Sink.write(conn, slices)
    }
    fn close(&mut self, _conn: ConnHandle) {}
    fn resume_reading(&mut self, _conn: ConnHandle) {}
    fn stop_listening(&mut self) {}
    fn send_to_peer(&mut self, _peer: PeerId, batch: &mut Vec<u8>) -> bool {
        let mut spare = self.spare.pop().unwrap_or_default();
        spare.clear();
        self.in_flight.push(std::mem::replace(batch, spare));
        true
    }
}
