//! The peer batch: one byte format for every link between router cores, an
//! in-process ring between shards as well as a NATS message between nodes.
//!
//! A batch is a fixed header followed by records. All integers are big-endian.
//!
//! ```text
//! header (80 bytes)
//!   magic        4  b"RPB\x01" (format version 1)
//!   flags        1  ACK_REQUESTED | DRAINING | RESET | HAS_ACK
//!   node_bits    1  the sender's ID layout: a peer with another is refused
//!   shard_bits   1
//!   reserved     1  zero
//!   from         8  sender (node u32, shard u32)
//!   to           8  receiver (node u32, shard u32)
//!   epoch        8  the sender's incarnation
//!   batch_seq    8  per link, +1 per batch: a replay is refused, a gap is
//!                   noticed
//!   before       16 frames and payload bytes the sender handed to this link
//!                   before this batch: a gap is frames lost in transit
//!   ack_epoch    8  the receiver's incarnation the acknowledgement is for
//!   ack          16 frames and payload bytes received from the receiver
//!                   (cumulative, lost ones included): flow control
//! records
//!   0x01 frame       dest u32, len u32, payload (len bytes, the last 0x00)
//!   0x02 dest_full   dest u32: pause senders to dest
//!   0x03 dest_ready  dest u32: dest drained or closed, resume them
//! ```
//!
//! Every batch names its sender, its receiver and the layout, so there is no
//! separate handshake to lose: the first batch a core gets from a peer (a
//! heartbeat, when there is nothing else to say) is its hello.
//!
//! The decoder treats its input as untrusted: it checks the whole batch
//! before handing out a single record (a batch is taken whole or refused
//! whole), bounds every length by the configuration before looking further,
//! and allocates nothing.

use crate::peer::PeerId;
use crate::stats::FrameCount;

/// The first four bytes of every batch: the format and its version.
pub const MAGIC: [u8; 4] = *b"RPB\x01";
/// Length of the fixed batch header.
pub const HEADER_LEN: usize = 80;
/// Bytes a frame record adds to its payload: tag, destination and length.
/// The window counts them, so that a flood of empty frames is bounded too.
pub const FRAME_OVERHEAD: usize = 9;
/// Length of a `dest_full` or `dest_ready` record.
pub const SIGNAL_LEN: usize = 5;

const TAG_FRAME: u8 = 0x01;
const TAG_DEST_FULL: u8 = 0x02;
const TAG_DEST_READY: u8 = 0x03;

/// The header's flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags(u8);

impl Flags {
    /// The sender's window is (nearly) exhausted: acknowledge at once.
    pub const ACK_REQUESTED: Flags = Flags(0x01);
    /// The sender is shutting down and takes no more frames.
    pub const DRAINING: Flags = Flags(0x02);
    /// The sender lost its link state for the receiver (the link went down):
    /// forget every `dest_full` it sent, and tell it again what is full.
    pub const RESET: Flags = Flags(0x04);
    /// The `ack_epoch` and `ack` fields are set.
    pub const HAS_ACK: Flags = Flags(0x08);
    const ALL: u8 = 0x0F;

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// These flags and `other`'s.
    pub fn with(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
}

/// Cumulative frames and bytes the receiver of a batch has received from its
/// sender, in the receiver's incarnation `epoch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// The incarnation of the core these counts were sent by.
    pub epoch: u64,
    /// Frames and payload bytes received, lost ones included.
    pub received: FrameCount,
}

/// What a batch says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Flags.
    pub flags: Flags,
    /// The sender's `node_bits` and `shard_bits`.
    pub layout_bits: (u8, u8),
    /// The sending core.
    pub from: PeerId,
    /// The core it is meant for.
    pub to: PeerId,
    /// The sender's incarnation.
    pub epoch: u64,
    /// The batch's number on its link.
    pub batch_seq: u64,
    /// Frames and payload bytes sent on this link before this batch.
    pub before: FrameCount,
    /// The acknowledgement it carries, if `HAS_ACK`.
    pub ack: Option<Ack>,
}

/// One record of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    /// A frame for a client of the receiving core.
    Frame {
        /// The destination ID.
        dest: u32,
        /// The payload with its terminator.
        payload: &'a [u8],
    },
    /// `dest` is above its high-water mark: pause senders to it.
    DestFull(u32),
    /// `dest` drained below its low-water mark, or closed: resume them.
    DestReady(u32),
}

/// Why a batch was refused. It is refused whole: none of its records is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Shorter than a header.
    #[error("batch of {0} bytes is shorter than its header")]
    TooShort(usize),
    /// Not a batch of this format version.
    #[error("bad magic or version")]
    BadMagic,
    /// Flags or reserved bits this version does not define.
    #[error("unknown flags {0:#x}")]
    UnknownFlags(u8),
    /// A record tag this version does not define.
    #[error("unknown record tag {0:#x}")]
    UnknownRecord(u8),
    /// A record runs past the end of the batch.
    #[error("record truncated")]
    Truncated,
    /// A frame's length is zero or above `max_frame_bytes + 1`.
    #[error("frame length {0} out of bounds")]
    FrameLength(u32),
    /// A frame's payload does not end with its only `0x00`.
    #[error("frame payload not terminated by its only zero byte")]
    BadTerminator,
}

/// A checked batch: its header, what its frames add up to, and its records.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    /// The header.
    pub header: BatchHeader,
    /// Frames and payload bytes its frame records carry.
    pub frames: FrameCount,
    records: &'a [u8],
}

impl<'a> Batch<'a> {
    /// The records, in order. The batch was checked whole, so this cannot fail.
    pub fn records(&self) -> Records<'a> {
        Records { rest: self.records }
    }
}

/// The records of a checked [`Batch`].
#[derive(Debug, Clone)]
pub struct Records<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        let (record, len) = parse_record(self.rest, usize::MAX).ok()??;
        self.rest = &self.rest[len..];
        Some(record)
    }
}

/// Checks `bytes` as a batch whose frame payloads are at most
/// `max_frame_bytes` (terminator excluded).
pub fn decode(bytes: &[u8], max_frame_bytes: usize) -> Result<Batch<'_>, WireError> {
    if bytes.len() < HEADER_LEN {
        return Err(WireError::TooShort(bytes.len()));
    }
    let (head, records) = bytes.split_at(HEADER_LEN);
    if head[..4] != MAGIC {
        return Err(WireError::BadMagic);
    }
    let flags = head[4];
    if flags & !Flags::ALL != 0 || head[7] != 0 {
        return Err(WireError::UnknownFlags(flags | head[7]));
    }
    let u32_at = |at: usize| u32::from_be_bytes(head[at..at + 4].try_into().expect("4 bytes"));
    let u64_at = |at: usize| u64::from_be_bytes(head[at..at + 8].try_into().expect("8 bytes"));
    let count_at = |at: usize| FrameCount {
        frames: u64_at(at),
        bytes: u64_at(at + 8),
    };
    let flags = Flags(flags);
    let header = BatchHeader {
        flags,
        layout_bits: (head[5], head[6]),
        from: PeerId::new(u32_at(8), u32_at(12)),
        to: PeerId::new(u32_at(16), u32_at(20)),
        epoch: u64_at(24),
        batch_seq: u64_at(32),
        before: count_at(40),
        ack: flags.contains(Flags::HAS_ACK).then(|| Ack {
            epoch: u64_at(56),
            received: count_at(64),
        }),
    };
    let max_payload = max_frame_bytes.saturating_add(1);
    let mut frames = FrameCount::default();
    let mut rest = records;
    while let Some((record, len)) = parse_record(rest, max_payload)? {
        if let Record::Frame { payload, .. } = record {
            // Whole frames only: a zero inside would split it into two at
            // the destination, a missing one would join it to the next.
            // Checked here once, so that reading the records again does not
            // scan every payload a second time.
            if memchr::memchr(0, payload) != Some(payload.len() - 1) {
                return Err(WireError::BadTerminator);
            }
            frames.frames += 1;
            frames.bytes += payload.len() as u64;
        }
        rest = &rest[len..];
    }
    Ok(Batch {
        header,
        frames,
        records,
    })
}

/// The record at the start of `bytes` and its length, `None` at the end.
fn parse_record(
    bytes: &[u8],
    max_payload: usize,
) -> Result<Option<(Record<'_>, usize)>, WireError> {
    let Some(&tag) = bytes.first() else {
        return Ok(None);
    };
    let field = |at: usize| -> Result<u32, WireError> {
        let slice = bytes.get(at..at + 4).ok_or(WireError::Truncated)?;
        Ok(u32::from_be_bytes(slice.try_into().expect("4 bytes")))
    };
    match tag {
        TAG_FRAME => {
            let dest = field(1)?;
            let len = field(5)?;
            // Bounded before the payload is looked at.
            if len == 0 || len as usize > max_payload {
                return Err(WireError::FrameLength(len));
            }
            let end = FRAME_OVERHEAD + len as usize;
            let payload = bytes.get(FRAME_OVERHEAD..end).ok_or(WireError::Truncated)?;
            Ok(Some((Record::Frame { dest, payload }, end)))
        }
        TAG_DEST_FULL => Ok(Some((Record::DestFull(field(1)?), SIGNAL_LEN))),
        TAG_DEST_READY => Ok(Some((Record::DestReady(field(1)?), SIGNAL_LEN))),
        other => Err(WireError::UnknownRecord(other)),
    }
}

/// The frames `batch` carries, from its records' tags and lengths alone:
/// no payload is read, so counting costs a step per record rather than a
/// pass over every byte, as [`decode`] must. For counting what a link
/// carries (the cluster bridge's metrics), not for checking: `None` if
/// `batch` is no batch or its records do not add up to its length, and one
/// counted here may still be refused by [`decode`].
pub fn count_frames(batch: &[u8]) -> Option<u64> {
    if batch.len() < HEADER_LEN || batch[..4] != MAGIC {
        return None;
    }
    let mut rest = &batch[HEADER_LEN..];
    let mut frames = 0;
    while let Some(&tag) = rest.first() {
        let len = match tag {
            TAG_FRAME => {
                let len = rest.get(5..FRAME_OVERHEAD)?;
                let len = u32::from_be_bytes(len.try_into().expect("4 bytes"));
                frames += 1;
                FRAME_OVERHEAD.checked_add(len as usize)?
            }
            TAG_DEST_FULL | TAG_DEST_READY => SIGNAL_LEN,
            _ => return None,
        };
        rest = rest.get(len..)?;
    }
    Some(frames)
}

/// The longest run of whole records at the start of `records` (a batch this
/// core built, so well formed) that fits `budget` bytes, at least one record
/// however long, and the frames in it: where a batch larger than a link
/// takes is cut.
pub fn records_within(records: &[u8], budget: usize) -> (usize, FrameCount) {
    let mut end = 0;
    let mut frames = FrameCount::default();
    while let Ok(Some((record, len))) = parse_record(&records[end..], usize::MAX) {
        if end > 0 && end + len > budget {
            break;
        }
        if let Record::Frame { payload, .. } = record {
            frames.frames += 1;
            frames.bytes += payload.len() as u64;
        }
        end += len;
    }
    (end, frames)
}

/// Starts a batch in `out`: room for the header, written by [`write_header`]
/// once the batch is complete.
pub fn start_batch(out: &mut Vec<u8>) {
    out.clear();
    out.resize(HEADER_LEN, 0);
}

/// Appends a frame record. `payload` includes its terminator.
pub fn push_frame(out: &mut Vec<u8>, dest: u32, payload: &[u8]) {
    out.push(TAG_FRAME);
    out.extend_from_slice(&dest.to_be_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
}

/// Appends a `dest_full` (`full`) or `dest_ready` record.
pub fn push_signal(out: &mut Vec<u8>, dest: u32, full: bool) {
    out.push(if full { TAG_DEST_FULL } else { TAG_DEST_READY });
    out.extend_from_slice(&dest.to_be_bytes());
}

/// Writes `header` over the first [`HEADER_LEN`] bytes of `batch`.
pub fn write_header(batch: &mut [u8], header: &BatchHeader) {
    let mut flags = header.flags;
    if header.ack.is_some() {
        flags = flags.with(Flags::HAS_ACK);
    }
    let ack = header.ack.unwrap_or(Ack {
        epoch: 0,
        received: FrameCount::default(),
    });
    let head = &mut batch[..HEADER_LEN];
    head[..4].copy_from_slice(&MAGIC);
    head[4] = flags.0;
    head[5] = header.layout_bits.0;
    head[6] = header.layout_bits.1;
    head[7] = 0;
    let fields: [(usize, &[u8]); 11] = [
        (8, &header.from.node.to_be_bytes()),
        (12, &header.from.shard.to_be_bytes()),
        (16, &header.to.node.to_be_bytes()),
        (20, &header.to.shard.to_be_bytes()),
        (24, &header.epoch.to_be_bytes()),
        (32, &header.batch_seq.to_be_bytes()),
        (40, &header.before.frames.to_be_bytes()),
        (48, &header.before.bytes.to_be_bytes()),
        (56, &ack.epoch.to_be_bytes()),
        (64, &ack.received.frames.to_be_bytes()),
        (72, &ack.received.bytes.to_be_bytes()),
    ];
    for (at, bytes) in fields {
        head[at..at + bytes.len()].copy_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> BatchHeader {
        BatchHeader {
            flags: Flags::ACK_REQUESTED,
            layout_bits: (2, 3),
            from: PeerId::new(1, 2),
            to: PeerId::new(3, 4),
            epoch: 7,
            batch_seq: 9,
            before: FrameCount {
                frames: 10,
                bytes: 200,
            },
            ack: Some(Ack {
                epoch: 5,
                received: FrameCount {
                    frames: 3,
                    bytes: 30,
                },
            }),
        }
    }

    fn sample() -> Vec<u8> {
        let mut out = Vec::new();
        start_batch(&mut out);
        push_frame(&mut out, 42, b"hi\0");
        push_signal(&mut out, 43, true);
        push_frame(&mut out, 44, b"\0");
        push_signal(&mut out, 43, false);
        write_header(&mut out, &header());
        out
    }

    #[test]
    fn round_trips_header_and_records() {
        let bytes = sample();
        let batch = decode(&bytes, 16).expect("valid");
        let mut expected = header();
        expected.flags = expected.flags.with(Flags::HAS_ACK);
        assert_eq!(batch.header, expected);
        assert_eq!(
            batch.frames,
            FrameCount {
                frames: 2,
                bytes: 4
            }
        );
        let records: Vec<Record<'_>> = batch.records().collect();
        assert_eq!(
            records,
            [
                Record::Frame {
                    dest: 42,
                    payload: b"hi\0"
                },
                Record::DestFull(43),
                Record::Frame {
                    dest: 44,
                    payload: b"\0"
                },
                Record::DestReady(43),
            ]
        );
    }

    #[test]
    fn counting_frames_agrees_with_decoding_and_refuses_what_does_not_add_up() {
        let bytes = sample();
        assert_eq!(count_frames(&bytes), Some(2));
        let mut empty = Vec::new();
        start_batch(&mut empty);
        write_header(&mut empty, &header());
        assert_eq!(count_frames(&empty), Some(0));
        assert_eq!(count_frames(&bytes[..bytes.len() - 1]), None, "truncated");
        let mut longer = bytes.clone();
        longer.push(TAG_FRAME);
        assert_eq!(count_frames(&longer), None, "a record cut short");
        longer.pop();
        longer.push(0x7f);
        assert_eq!(count_frames(&longer), None, "an unknown tag");
        let mut huge = empty.clone();
        huge.extend_from_slice(&[TAG_FRAME, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(count_frames(&huge), None, "a length past the end");
        assert_eq!(count_frames(&bytes[..HEADER_LEN - 1]), None, "no header");
        let mut magic = bytes.clone();
        magic[0] = b'X';
        assert_eq!(count_frames(&magic), None, "not a batch");
    }

    #[test]
    fn refuses_every_malformed_batch_whole() {
        let bytes = sample();
        assert_eq!(
            decode(&bytes[..10], 16).unwrap_err(),
            WireError::TooShort(10)
        );
        for cut in HEADER_LEN + 1..bytes.len() {
            // Every cut inside a record is caught; cuts between records are
            // shorter valid batches.
            if let Err(error) = decode(&bytes[..cut], 16) {
                assert_eq!(error, WireError::Truncated, "cut at {cut}");
            }
        }
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert_eq!(decode(&bad, 16).unwrap_err(), WireError::BadMagic);
        let mut bad = bytes.clone();
        bad[4] = 0x80;
        assert_eq!(decode(&bad, 16).unwrap_err(), WireError::UnknownFlags(0x80));
        let mut bad = bytes.clone();
        bad[HEADER_LEN] = 0x7F;
        assert_eq!(
            decode(&bad, 16).unwrap_err(),
            WireError::UnknownRecord(0x7F)
        );
        // "hi\0" is 3 bytes: a limit of 1 payload byte refuses it.
        assert_eq!(decode(&bytes, 1).unwrap_err(), WireError::FrameLength(3));
        let mut bad = bytes.clone();
        bad[HEADER_LEN + FRAME_OVERHEAD] = 0; // "\0i\0": a zero inside.
        assert_eq!(decode(&bad, 16).unwrap_err(), WireError::BadTerminator);
        let mut huge = Vec::new();
        start_batch(&mut huge);
        huge.push(TAG_FRAME);
        huge.extend_from_slice(&[0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF]);
        write_header(&mut huge, &header());
        assert_eq!(
            decode(&huge, 16).unwrap_err(),
            WireError::FrameLength(u32::MAX)
        );
    }
}
