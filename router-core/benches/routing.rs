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
//! A second benchmark feeds one frame per read instead.
//!
//! Run with `cargo bench -p router-core --bench routing`.

use std::time::Instant;

use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use router_core::{Config, ConnHandle, Router};
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
        let conns: Vec<ConnHandle> = (0..2 * pairs)
            .map(|_| router.handle_accept(now).expect("below the limit"))
            .collect();
        router.drive(now, &mut Sink); // The IDs.
        let frame_len = 4 + payload + 1;
        let frames_per_sender = READS_PER_SENDER * READ_SIZE / frame_len;
        let senders = conns
            .chunks(2)
            .map(|pair| {
                let (sender, dest) = (pair[0], pair[1]);
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
            frames_per_round: pairs * frames_per_sender,
            bytes_per_round: pairs * frames_per_sender * frame_len,
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
