//! The simplest frame decoder that could work: one byte at a time, no
//! buffering strategy, no search. It is the oracle the core's
//! [`FrameDecoder`](router_core::frame::FrameDecoder) is compared with, so it
//! shares none of its code and is written to be obviously right, not fast.

use std::collections::VecDeque;

use router_core::frame::Discarded;

/// A frame starts with its destination, four bytes, big-endian.
const HEADER_LEN: usize = 4;

/// Decodes a stream byte by byte, queuing each frame as its terminator arrives.
#[derive(Debug)]
pub(super) struct ReferenceDecoder {
    max_payload: usize,
    /// The frame being read: its header bytes, then its payload bytes so far.
    current: Vec<u8>,
    /// Frames complete but not yet claimed: destination, payload with terminator.
    frames: VecDeque<(u32, Vec<u8>)>,
    /// Set when a payload broke the limit: the destination and the frame's
    /// bytes (header included) at that point. Nothing is decoded after it.
    oversize: Option<(u32, usize)>,
}

impl ReferenceDecoder {
    pub(super) fn new(max_payload: usize) -> Self {
        ReferenceDecoder {
            max_payload,
            current: Vec::new(),
            frames: VecDeque::new(),
            oversize: None,
        }
    }

    pub(super) fn push(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.push_byte(byte);
        }
    }

    fn push_byte(&mut self, byte: u8) {
        if self.oversize.is_some() {
            return;
        }
        self.current.push(byte);
        if self.current.len() <= HEADER_LEN {
            return;
        }
        let header = [
            self.current[0],
            self.current[1],
            self.current[2],
            self.current[3],
        ];
        let dest = u32::from_be_bytes(header);
        let payload = &self.current[HEADER_LEN..];
        if byte == 0 {
            self.frames.push_back((dest, payload.to_vec()));
            self.current.clear();
        } else if payload.len() > self.max_payload {
            self.oversize = Some((dest, self.current.len()));
        }
    }

    /// The oldest frame decoded and not yet claimed.
    pub(super) fn next_frame(&mut self) -> Option<(u32, Vec<u8>)> {
        self.frames.pop_front()
    }

    /// The oversized frame's destination and bytes received, if the stream
    /// broke the limit.
    pub(super) fn oversize(&self) -> Option<(u32, usize)> {
        self.oversize
    }

    /// Bytes of the unfinished frame, header included.
    pub(super) fn partial_len(&self) -> usize {
        self.current.len()
    }

    /// Forgets the stream, reporting the frames not yet claimed and the
    /// unfinished one as [`FrameDecoder::clear`] must.
    ///
    /// [`FrameDecoder::clear`]: router_core::frame::FrameDecoder::clear
    pub(super) fn clear(&mut self) -> Discarded {
        let discarded = Discarded {
            whole_frames: self.frames.len() as u64,
            whole_bytes: self.frames.iter().map(|(_, p)| p.len() as u64).sum(),
            partial_bytes: (!self.current.is_empty())
                .then(|| self.current.len().saturating_sub(HEADER_LEN) as u64),
        };
        *self = ReferenceDecoder::new(self.max_payload);
        discarded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_frames_and_stops_at_the_first_oversize() {
        let mut reference = ReferenceDecoder::new(3);
        reference.push(&[0, 0, 0, 7, b'a', b'b', b'c', 0]);
        reference.push(&[0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(reference.next_frame(), Some((7, b"abc\0".to_vec())));
        assert_eq!(reference.next_frame(), Some((256, b"\0".to_vec())));
        assert_eq!(reference.partial_len(), 2);
        reference.push(&[0, 9, b'w', b'x', b'y']);
        assert_eq!(
            reference.oversize(),
            None,
            "three bytes are within the limit"
        );
        reference.push(&[b'z', 0, 0, 0, 0, 1, b'a', 0]);
        assert_eq!(reference.oversize(), Some((9, 8)));
        assert_eq!(reference.next_frame(), None, "nothing after the oversize");
    }

    #[test]
    fn clear_counts_unclaimed_and_partial_frames() {
        let mut reference = ReferenceDecoder::new(8);
        reference.push(&[0, 0, 0, 1, b'a', 0, 0, 0, 0, 2, 0, 0, 0]);
        let discarded = reference.clear();
        assert_eq!(
            discarded,
            Discarded {
                whole_frames: 2,
                whole_bytes: 3,
                partial_bytes: Some(0)
            }
        );
        assert_eq!(reference.clear(), Discarded::default());
    }
}
