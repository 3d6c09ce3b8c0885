//! The `peer_wire` target: batches from a peer, mostly well-formed but with
//! fuzzer-chosen counts, flags, records, corruptions and cuts, or raw bytes,
//! fed to the batch decoder and to a router with that peer up.
//!
//! Checked: the decoder never panics; a batch it takes re-encodes to one it
//! decodes the same way, and every frame it hands out is whole (one
//! terminator, at the end) and within the limit; the router takes or refuses
//! each batch (exactly one counter moves) and accounts for every frame it
//! takes; its peer link stays within its bounds.

use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use router_core::peer::wire::{self, Ack, BatchHeader, Flags, HEADER_LEN, Record};
use router_core::{Config, DropCause, FrameCount, IdLayout, PeerId, Router};

use crate::network::Sink;

/// What the fuzzer chooses.
#[derive(Debug, Arbitrary)]
pub struct PeerWireInput {
    /// The payload limit, small so that frames break it.
    pub max_frame_bytes: u8,
    /// What arrives, in order.
    pub batches: Vec<FuzzBatch>,
}

/// One arrival.
#[derive(Debug, Arbitrary)]
pub enum FuzzBatch {
    /// Raw bytes.
    Raw(Vec<u8>),
    /// A batch from the peer, encoded, then perhaps damaged.
    Built {
        /// Header flags (unknown bits included).
        flags: u8,
        /// The sender's incarnation, from a few.
        epoch: u8,
        /// The batch's number.
        batch_seq: u64,
        /// Frames and bytes before it.
        before: (u16, u32),
        /// An acknowledgement: incarnation and counts.
        ack: Option<(u8, u16, u32)>,
        /// The records.
        records: Vec<FuzzRecord>,
        /// Overwrite one byte: `(index modulo length, value)`.
        corrupt: Option<(u16, u8)>,
        /// Cut it to this length (modulo its length plus one).
        cut: Option<u16>,
    },
}

/// One record, as the fuzzer chooses it.
#[derive(Debug, Arbitrary)]
pub enum FuzzRecord {
    /// A frame: destination selector and payload (a terminator is added).
    Frame(u8, Vec<u8>),
    /// `dest_full`.
    Full(u8),
    /// `dest_ready`.
    Ready(u8),
}

const ME: PeerId = PeerId::new(0, 0);
const PEER: PeerId = PeerId::new(0, 1);

impl PeerWireInput {
    /// Feeds every arrival, panicking at the first broken invariant.
    pub fn run(&self) {
        let max_frame_bytes = usize::from(self.max_frame_bytes).max(1);
        let config = Config {
            max_frame_bytes,
            outbound_high_water: 64,
            outbound_low_water: 16,
            peer_window: 256,
            id_layout: IdLayout::new(0, 0, 1, 0),
            ..Config::default()
        };
        let mut now = crate::epoch();
        let mut router = Router::new(config).expect("valid config");
        router.handle_peer_up(PEER, now).expect("in the layout");
        let dests: Vec<u32> = (0..2)
            .map(|_| router.handle_accept(now).expect("below the limit").id())
            .collect();
        for arrival in &self.batches {
            let bytes = arrival.encode(&dests);
            check_decoder(&bytes, max_frame_bytes);
            let before = router.stats().clone();
            router.handle_peer_input(&bytes, now);
            let after = router.stats();
            let taken = after.peer_batches_received - before.peer_batches_received;
            let refused = after.peer_batches_rejected - before.peer_batches_rejected;
            assert_eq!(taken + refused, 1, "a batch must be taken or refused");
            check_router(&router);
            now += Duration::from_millis(10);
            router.drive(now, &mut Sink);
        }
    }
}

impl FuzzBatch {
    fn encode(&self, dests: &[u32]) -> Vec<u8> {
        let (flags, epoch, batch_seq, before, ack, records, corrupt, cut) = match self {
            FuzzBatch::Raw(bytes) => return bytes.clone(),
            FuzzBatch::Built {
                flags,
                epoch,
                batch_seq,
                before,
                ack,
                records,
                corrupt,
                cut,
            } => (flags, epoch, batch_seq, before, ack, records, corrupt, cut),
        };
        let mut out = Vec::new();
        wire::start_batch(&mut out);
        for record in records {
            let dest = |selector: u8| {
                dests
                    .get(usize::from(selector))
                    .copied()
                    .unwrap_or(u32::from(selector))
            };
            match record {
                FuzzRecord::Frame(selector, payload) => {
                    let mut payload: Vec<u8> = payload.iter().map(|&b| b.max(1)).collect();
                    payload.push(0);
                    wire::push_frame(&mut out, dest(*selector), &payload);
                }
                FuzzRecord::Full(selector) => wire::push_signal(&mut out, dest(*selector), true),
                FuzzRecord::Ready(selector) => wire::push_signal(&mut out, dest(*selector), false),
            }
        }
        let header = BatchHeader {
            flags: Flags::default(),
            layout_bits: (0, 1),
            from: PEER,
            to: ME,
            epoch: u64::from(epoch % 3),
            batch_seq: *batch_seq,
            before: FrameCount {
                frames: u64::from(before.0),
                bytes: u64::from(before.1),
            },
            ack: ack.map(|(epoch, frames, bytes)| Ack {
                epoch: u64::from(epoch % 2),
                received: FrameCount {
                    frames: u64::from(frames),
                    bytes: u64::from(bytes),
                },
            }),
        };
        wire::write_header(&mut out, &header);
        out[4] |= flags & 0x07;
        if let Some((at, value)) = corrupt {
            let at = usize::from(*at) % out.len();
            out[at] = *value;
        }
        if let Some(cut) = cut {
            out.truncate(usize::from(*cut) % (out.len() + 1));
        }
        out
    }
}

/// The decoder on `bytes`: a batch it takes holds only whole frames within
/// the limit, and re-encodes to the same batch.
fn check_decoder(bytes: &[u8], max_frame_bytes: usize) {
    let Ok(batch) = wire::decode(bytes, max_frame_bytes) else {
        return;
    };
    let mut again = Vec::new();
    wire::start_batch(&mut again);
    let mut frames = FrameCount::default();
    for record in batch.records() {
        match record {
            Record::Frame { dest, payload } => {
                assert!(payload.len() <= max_frame_bytes + 1, "frame over the limit");
                assert_eq!(
                    memchr_position(payload),
                    Some(payload.len() - 1),
                    "a frame that is not whole"
                );
                frames.frames += 1;
                frames.bytes += payload.len() as u64;
                wire::push_frame(&mut again, dest, payload);
            }
            Record::DestFull(dest) => wire::push_signal(&mut again, dest, true),
            Record::DestReady(dest) => wire::push_signal(&mut again, dest, false),
        }
    }
    assert_eq!(frames, batch.frames, "the batch's frame count");
    assert_eq!(
        again.len(),
        bytes.len(),
        "records re-encode to the same length"
    );
    assert_eq!(
        again[HEADER_LEN..],
        bytes[HEADER_LEN..],
        "records re-encode the same"
    );
    wire::write_header(&mut again, &batch.header);
    let decoded = wire::decode(&again, max_frame_bytes).expect("re-encoded batch decodes");
    assert_eq!(decoded.header, batch.header, "header round trip");
}

fn memchr_position(payload: &[u8]) -> Option<usize> {
    payload.iter().position(|&b| b == 0)
}

/// The router accounts for every frame it took from the peer, and its link
/// stays within bounds.
fn check_router(router: &Router) {
    let stats = router.stats();
    // Saturating, as the counters are: a forged batch may claim any loss.
    let took = (stats.from_peers.frames).saturating_add(stats.dropped(DropCause::InTransit).frames);
    assert_eq!(
        took,
        stats
            .routed
            .frames
            .saturating_add(stats.dropped_whole().frames),
        "frames from the peer = queued + dropped: {stats:?}"
    );
    let info = router.peer_info(PEER).expect("up");
    assert_eq!(info.bytes_in_flight, 0, "nothing was sent to the peer");
    let config = router.config();
    let bound = config.outbound_high_water
        + 2 * (config.peer_window + config.max_frame_bytes + 1 + wire::FRAME_OVERHEAD);
    assert!(
        stats.bytes_queued as usize <= 2 * (bound + 4),
        "{} bytes queued from one peer",
        stats.bytes_queued
    );
}

/// The target on raw fuzzer bytes, parsed as `cargo fuzz` parses them.
pub fn peer_wire(data: &[u8]) {
    if let Ok(input) = PeerWireInput::arbitrary_take_rest(Unstructured::new(data)) {
        input.run();
    }
}
