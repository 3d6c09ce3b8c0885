//! Message payloads: what every workload sends and every receiver verifies.
//!
//! A payload must never contain `0x00`, the router's frame terminator, and it must let
//! the receiver check, without any side channel, that each message arrived whole,
//! uncorrupted and in order, and how long it took. Layout of an `S`-byte payload:
//!
//! | bytes | content |
//! | --- | --- |
//! | 0..5 | sender index (`u32`) |
//! | 5..15 | sequence number (`u64`), counting from 0 per sender |
//! | 15..25 | send time (`u64`, nanoseconds since the run's common start) |
//! | 25..S | filler |
//!
//! Integers are fixed-width base-128, most significant digit first, with the high bit
//! set on every byte, so no byte is ever zero. The filler is a window into a repeating
//! pattern of the bytes `1..=251` that starts at an offset derived from the sequence
//! number: a frame truncated, shifted, or spliced with another frame fails the check,
//! and checking it is one `memcmp`, so verification does not slow the generator down.

/// Length of the header that carries sender, sequence and timestamp.
pub(crate) const HEADER_LEN: usize = 25;

/// The pattern period: a prime, so consecutive frames' fillers differ.
const PERIOD: usize = 251;

/// What a payload header carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// Index of the sending client, unique within a run.
    pub(crate) sender: u32,
    /// Per-sender sequence number, consecutive from 0.
    pub(crate) seq: u64,
    /// Send time in nanoseconds since the run's common start instant.
    pub(crate) sent_at_ns: u64,
}

/// Why a payload failed verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PayloadFault {
    /// Wrong length or a header byte that is not a valid digit: a cut or merged frame.
    Malformed,
    /// The header parsed but the filler differs: bytes were changed or shifted.
    Corrupt,
}

/// Encoder and decoder for payloads of one fixed size.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    size: usize,
    /// The filler pattern, long enough that any start offset has `size` bytes after it.
    filler: Vec<u8>,
}

impl Pattern {
    /// A pattern for payloads of exactly `size` bytes; `None` if `size` cannot hold
    /// the header.
    pub(crate) fn new(size: usize) -> Option<Self> {
        if size < HEADER_LEN {
            return None;
        }
        let filler = (0..size - HEADER_LEN + PERIOD)
            .map(|i| (i % PERIOD) as u8 + 1)
            .collect();
        Some(Self { size, filler })
    }

    /// The payload size, in bytes, without any terminator.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Appends the payload for `header` to `out`.
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>, header: Header) {
        push_digits(out, u64::from(header.sender), 5);
        push_digits(out, header.seq, 10);
        push_digits(out, header.sent_at_ns, 10);
        out.extend_from_slice(self.filler_for(header.seq));
    }

    /// Parses and checks one received payload (without its terminator).
    pub(crate) fn decode(&self, payload: &[u8]) -> Result<Header, PayloadFault> {
        if payload.len() != self.size {
            return Err(PayloadFault::Malformed);
        }
        let sender = read_digits(&payload[0..5]).ok_or(PayloadFault::Malformed)?;
        let seq = read_digits(&payload[5..15]).ok_or(PayloadFault::Malformed)?;
        let sent_at_ns = read_digits(&payload[15..25]).ok_or(PayloadFault::Malformed)?;
        let sender = u32::try_from(sender).map_err(|_| PayloadFault::Malformed)?;
        if payload[HEADER_LEN..] != *self.filler_for(seq) {
            return Err(PayloadFault::Corrupt);
        }
        Ok(Header {
            sender,
            seq,
            sent_at_ns,
        })
    }

    fn filler_for(&self, seq: u64) -> &[u8] {
        let start = (seq % PERIOD as u64) as usize;
        &self.filler[start..start + self.size - HEADER_LEN]
    }
}

/// Appends `value` as `width` base-128 digits, each with the high bit set.
fn push_digits(out: &mut Vec<u8>, value: u64, width: u32) {
    for i in (0..width).rev() {
        let digit = value.checked_shr(7 * i).unwrap_or(0) & 0x7f;
        out.push(0x80 | digit as u8);
    }
}

/// Reads digits written by [`push_digits`]; `None` if a byte lacks the high bit or
/// the value overflows a `u64`.
fn read_digits(bytes: &[u8]) -> Option<u64> {
    bytes.iter().try_fold(0u64, |acc, &b| {
        if b & 0x80 == 0 {
            return None;
        }
        acc.checked_mul(128)?.checked_add(u64::from(b & 0x7f))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(pattern: &Pattern, header: Header) -> Vec<u8> {
        let mut out = Vec::new();
        pattern.encode_into(&mut out, header);
        out
    }

    const EXTREME: Header = Header {
        sender: u32::MAX,
        seq: u64::MAX,
        sent_at_ns: u64::MAX,
    };

    #[test]
    fn round_trips_every_size_and_extreme_values() {
        for size in [HEADER_LEN, 26, 64, 1024, 4096] {
            let pattern = Pattern::new(size).unwrap();
            for header in [
                Header {
                    sender: 0,
                    seq: 0,
                    sent_at_ns: 0,
                },
                Header {
                    sender: 7,
                    seq: 1_234_567,
                    sent_at_ns: 987_654_321_012,
                },
                EXTREME,
            ] {
                let bytes = encode(&pattern, header);
                assert_eq!(bytes.len(), size);
                assert_eq!(pattern.decode(&bytes), Ok(header));
            }
        }
    }

    #[test]
    fn never_contains_the_terminator() {
        let pattern = Pattern::new(600).unwrap();
        for seq in 0..600 {
            let bytes = encode(
                &pattern,
                Header {
                    sender: seq as u32,
                    seq,
                    sent_at_ns: seq << 20,
                },
            );
            assert!(!bytes.contains(&0), "seq {seq} encodes a zero byte");
        }
    }

    #[test]
    fn too_small_a_size_is_refused() {
        assert!(Pattern::new(HEADER_LEN - 1).is_none());
    }

    #[test]
    fn detects_truncation_and_merging() {
        let pattern = Pattern::new(64).unwrap();
        let bytes = encode(&pattern, EXTREME);
        assert_eq!(pattern.decode(&bytes[..63]), Err(PayloadFault::Malformed));
        let mut merged = bytes.clone();
        merged.extend_from_slice(&bytes);
        assert_eq!(pattern.decode(&merged), Err(PayloadFault::Malformed));
    }

    #[test]
    fn detects_a_flipped_filler_byte() {
        let pattern = Pattern::new(64).unwrap();
        let mut bytes = encode(&pattern, EXTREME);
        bytes[40] ^= 0x01;
        assert_eq!(pattern.decode(&bytes), Err(PayloadFault::Corrupt));
    }

    #[test]
    fn detects_a_header_byte_without_its_marker_bit() {
        let pattern = Pattern::new(64).unwrap();
        let mut bytes = encode(&pattern, EXTREME);
        bytes[3] &= 0x7f;
        assert_eq!(pattern.decode(&bytes), Err(PayloadFault::Malformed));
    }

    #[test]
    fn filler_of_another_sequence_number_is_rejected() {
        // A frame whose header was rewritten to another sequence number keeps its old
        // filler: the splice must not pass.
        let pattern = Pattern::new(64).unwrap();
        let original = encode(
            &pattern,
            Header {
                sender: 1,
                seq: 10,
                sent_at_ns: 5,
            },
        );
        let other = encode(
            &pattern,
            Header {
                sender: 1,
                seq: 11,
                sent_at_ns: 5,
            },
        );
        let mut spliced = other[..HEADER_LEN].to_vec();
        spliced.extend_from_slice(&original[HEADER_LEN..]);
        assert_eq!(pattern.decode(&spliced), Err(PayloadFault::Corrupt));
    }
}
