//! Reassembling frames from a byte stream cut at arbitrary points.
//!
//! A frame on the wire is `dest: u32` (big-endian), a payload of non-zero bytes,
//! and one `0x00` terminator. The header may itself contain zero bytes, so the
//! terminator is searched for only after the first four bytes.
//!
//! The decoder keeps no copy of bytes it can hand out directly: a frame that
//! lies whole inside the caller's input is returned borrowed from it, and only
//! the unfinished tail of an input is buffered. Every byte is scanned once
//! (with `memchr`), however the stream is fragmented.

use bytes::{Buf, Bytes, BytesMut};

/// Length of the destination header.
pub const HEADER_LEN: usize = 4;

/// One decoded frame.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The destination ID from the header.
    pub dest: u32,
    /// The payload *with* its `0x00` terminator: exactly the bytes to deliver.
    pub payload: Payload<'a>,
}

/// A frame's payload, where it happens to live.
#[derive(Debug, PartialEq, Eq)]
pub enum Payload<'a> {
    /// The frame lay whole inside the input slice.
    Borrowed(&'a [u8]),
    /// The frame was reassembled in the decoder's buffer and split off it
    /// without copying.
    Owned(Bytes),
}

impl Payload<'_> {
    /// The payload bytes, terminator included.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Payload::Borrowed(bytes) => bytes,
            Payload::Owned(bytes) => bytes,
        }
    }

    /// Length including the terminator.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Never true: a payload always holds at least its terminator.
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    /// Takes ownership, copying only if the bytes were borrowed.
    pub fn into_owned(self) -> Bytes {
        match self {
            Payload::Borrowed(bytes) => Bytes::copy_from_slice(bytes),
            Payload::Owned(bytes) => bytes,
        }
    }
}

/// What [`FrameDecoder::clear`] threw away.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Discarded {
    /// Whole frames that were buffered but not yet decoded.
    pub whole_frames: u64,
    /// Their payload bytes, terminators included.
    pub whole_bytes: u64,
    /// Payload bytes of a trailing partial frame, if there was one.
    pub partial_bytes: Option<u64>,
}

/// A frame's payload grew past the configured limit before its terminator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("frame to {dest} exceeds max_frame_bytes ({limit}) before its terminator")]
pub struct FrameTooLarge {
    /// The destination named in the offending frame's header.
    pub dest: u32,
    /// The limit it broke.
    pub limit: usize,
    /// Bytes of the frame (header included) received when it was detected.
    pub received: usize,
}

/// Reassembles frames from a stream of input slices.
///
/// Holds no allocation while no partial frame is pending, so an idle
/// connection's decoder costs only its inline size.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    /// Input not yet returned as frames: at most one partial frame, or, after
    /// [`stash`](Self::stash), whole frames followed by a partial one.
    buffered: BytesMut,
    /// Payload bytes at the start of `buffered`'s first frame already known to
    /// hold no terminator, so they are never scanned twice.
    scanned: usize,
}

impl FrameDecoder {
    /// Bytes buffered: a partial frame, or frames stashed while the sender is
    /// paused.
    pub fn buffered_len(&self) -> usize {
        self.buffered.len()
    }

    /// Heap bytes the decoder holds.
    pub fn capacity(&self) -> usize {
        self.buffered.capacity()
    }

    /// Decodes the next frame from the buffered bytes followed by `input`,
    /// advancing `input` past what it consumed.
    ///
    /// Returns `Ok(None)` once `input` is used up without completing a frame
    /// (its tail is then buffered). A payload longer than `max_payload` bytes
    /// before its terminator is an error; the decoder must not be used again
    /// after it.
    pub fn decode<'a>(
        &mut self,
        input: &mut &'a [u8],
        max_payload: usize,
    ) -> Result<Option<Frame<'a>>, FrameTooLarge> {
        if self.buffered.is_empty() {
            self.decode_borrowed(input, max_payload)
        } else {
            self.decode_buffered(input, max_payload)
        }
    }

    /// Buffers `input` after what is already buffered, for a sender whose
    /// reading is paused with part of its last read still undecoded.
    pub fn stash(&mut self, input: &[u8]) {
        self.buffered.extend_from_slice(input);
    }

    /// Discards whatever is buffered and releases its memory, reporting what
    /// was lost so that it can be counted.
    pub fn clear(&mut self) -> Discarded {
        let mut discarded = Discarded::default();
        let mut rest = &self.buffered[..];
        while !rest.is_empty() {
            match memchr::memchr(0, rest.get(HEADER_LEN..).unwrap_or_default()) {
                Some(end) => {
                    discarded.whole_frames += 1;
                    discarded.whole_bytes += end as u64 + 1;
                    rest = &rest[HEADER_LEN + end + 1..];
                }
                None => {
                    discarded.partial_bytes = Some(rest.len().saturating_sub(HEADER_LEN) as u64);
                    break;
                }
            }
        }
        *self = FrameDecoder::default();
        discarded
    }

    /// The fast path: nothing buffered, so a frame whole inside `input` is
    /// returned without copying.
    fn decode_borrowed<'a>(
        &mut self,
        input: &mut &'a [u8],
        max_payload: usize,
    ) -> Result<Option<Frame<'a>>, FrameTooLarge> {
        let bytes: &'a [u8] = input;
        if bytes.len() <= HEADER_LEN {
            self.buffer_rest(input, 0);
            return Ok(None);
        }
        let dest = read_dest(bytes);
        let payload = &bytes[HEADER_LEN..];
        match find_terminator(payload, 0, max_payload, dest)? {
            Some(end) => {
                *input = &bytes[HEADER_LEN + end + 1..];
                Ok(Some(Frame {
                    dest,
                    payload: Payload::Borrowed(&payload[..=end]),
                }))
            }
            None => {
                self.buffer_rest(input, payload.len());
                Ok(None)
            }
        }
    }

    /// The slow path: a frame is partly buffered. Finishes it from the buffer
    /// itself (frames stashed by a pause) or from `input`.
    fn decode_buffered<'a>(
        &mut self,
        input: &mut &'a [u8],
        max_payload: usize,
    ) -> Result<Option<Frame<'a>>, FrameTooLarge> {
        if self.buffered.len() < HEADER_LEN {
            let missing = (HEADER_LEN - self.buffered.len()).min(input.len());
            self.buffered.extend_from_slice(&input[..missing]);
            input.advance(missing);
            if self.buffered.len() < HEADER_LEN {
                return Ok(None);
            }
        }
        let dest = read_dest(&self.buffered);
        let already = self.scanned;
        let in_buffer = &self.buffered[HEADER_LEN..];
        if let Some(end) = find_terminator(in_buffer, already, max_payload, dest)? {
            return Ok(Some(self.split_frame(dest, HEADER_LEN + end + 1)));
        }
        self.scanned = in_buffer.len();
        // The buffer holds one partial frame: look for its end in the input.
        let room = (max_payload + 1).saturating_sub(self.scanned);
        let window = &input[..input.len().min(room)];
        match memchr::memchr(0, window) {
            Some(end) => {
                self.buffered.extend_from_slice(&input[..=end]);
                input.advance(end + 1);
                let len = self.buffered.len();
                Ok(Some(self.split_frame(dest, len)))
            }
            None if window.len() == room => Err(FrameTooLarge {
                dest,
                limit: max_payload,
                received: self.buffered.len() + window.len(),
            }),
            None => {
                self.buffered.extend_from_slice(input);
                self.scanned += input.len();
                *input = &[];
                Ok(None)
            }
        }
    }

    /// Splits the first `len` buffered bytes off as a frame, without copying.
    fn split_frame<'a>(&mut self, dest: u32, len: usize) -> Frame<'a> {
        let mut frame = self.buffered.split_to(len).freeze();
        frame.advance(HEADER_LEN);
        self.scanned = 0;
        if self.buffered.is_empty() {
            // The split-off frame keeps the allocation alive; drop our share of
            // it so an idle decoder pins nothing once the frame is delivered.
            self.buffered = BytesMut::new();
        }
        Frame {
            dest,
            payload: Payload::Owned(frame),
        }
    }

    fn buffer_rest(&mut self, input: &mut &[u8], scanned: usize) {
        self.buffered.extend_from_slice(input);
        self.scanned = scanned;
        *input = &[];
    }
}

fn read_dest(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Finds the terminator in `payload`, whose first `scanned` bytes are known to
/// hold none. `Err` when more than `max_payload` bytes precede it (or would).
fn find_terminator(
    payload: &[u8],
    scanned: usize,
    max_payload: usize,
    dest: u32,
) -> Result<Option<usize>, FrameTooLarge> {
    // Indices 0..=max_payload may hold the terminator; one byte beyond that
    // without it proves the frame too large.
    let limit = payload.len().min(max_payload.saturating_add(1));
    match memchr::memchr(0, &payload[scanned.min(limit)..limit]) {
        Some(offset) => Ok(Some(scanned + offset)),
        None if limit > max_payload => Err(FrameTooLarge {
            dest,
            limit: max_payload,
            received: HEADER_LEN + limit,
        }),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(dest: u32, payload: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        router_client::encode_frame(dest, payload, &mut bytes).expect("no 0x00 in a test payload");
        bytes
    }

    /// Feeds `chunks` one by one and collects `(dest, payload)` pairs.
    fn decode_all(chunks: &[&[u8]], max: usize) -> Result<Vec<(u32, Vec<u8>)>, FrameTooLarge> {
        let mut decoder = FrameDecoder::default();
        let mut frames = Vec::new();
        for chunk in chunks {
            let mut input = *chunk;
            while let Some(frame) = decoder.decode(&mut input, max)? {
                frames.push((frame.dest, frame.payload.as_slice().to_vec()));
            }
            assert!(input.is_empty());
        }
        Ok(frames)
    }

    #[test]
    fn whole_frames_in_one_input_are_borrowed() {
        let mut bytes = frame(7, b"hello");
        bytes.extend(frame(0, b""));
        let mut decoder = FrameDecoder::default();
        let mut input = &bytes[..];
        let first = decoder.decode(&mut input, 64).unwrap().unwrap();
        assert_eq!(first.dest, 7);
        assert_eq!(first.payload, Payload::Borrowed(b"hello\0"));
        let second = decoder.decode(&mut input, 64).unwrap().unwrap();
        assert_eq!((second.dest, second.payload.as_slice()), (0, &b"\0"[..]));
        assert_eq!(decoder.decode(&mut input, 64), Ok(None));
        assert_eq!(decoder.capacity(), 0, "nothing buffered, nothing allocated");
    }

    #[test]
    fn header_with_zero_bytes_is_not_a_terminator() {
        let bytes = frame(0x0000_0100, b"x");
        assert_eq!(decode_all(&[&bytes], 8), Ok(vec![(0x100, b"x\0".to_vec())]));
    }

    #[test]
    fn every_split_point_gives_the_same_frames() {
        let mut bytes = frame(1, b"abc");
        bytes.extend(frame(2, b""));
        bytes.extend(frame(3, b"defgh"));
        let expected = decode_all(&[&bytes], 16).unwrap();
        assert_eq!(expected.len(), 3);
        for a in 0..=bytes.len() {
            for b in a..=bytes.len() {
                let chunks = [&bytes[..a], &bytes[a..b], &bytes[b..]];
                assert_eq!(decode_all(&chunks, 16).unwrap(), expected, "cut at {a},{b}");
            }
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(decode_all(&singles, 16).unwrap(), expected);
    }

    #[test]
    fn payload_of_exactly_the_limit_passes_one_more_fails() {
        assert_eq!(decode_all(&[&frame(1, b"abcd")], 4).unwrap().len(), 1);
        let err = decode_all(&[&frame(9, b"abcde")], 4).unwrap_err();
        assert_eq!((err.dest, err.limit), (9, 4));
    }

    #[test]
    fn oversize_is_detected_before_the_terminator_arrives() {
        let bytes = frame(5, b"abcdefgh");
        let unterminated = &bytes[..bytes.len() - 1];
        // Whole, then cut byte by byte: the error comes without the terminator.
        assert!(decode_all(&[unterminated], 4).is_err());
        let singles: Vec<&[u8]> = unterminated.chunks(1).collect();
        assert!(decode_all(&singles, 4).is_err());
    }

    #[test]
    fn stashed_frames_come_out_in_order() {
        let mut bytes = frame(1, b"a");
        bytes.extend(frame(2, b"bb"));
        bytes.extend(&frame(3, b"ccc")[..3]);
        let mut decoder = FrameDecoder::default();
        decoder.stash(&bytes);
        let mut empty: &[u8] = &[];
        let first = decoder.decode(&mut empty, 16).unwrap().unwrap();
        assert_eq!((first.dest, first.payload.as_slice()), (1, &b"a\0"[..]));
        let second = decoder.decode(&mut empty, 16).unwrap().unwrap();
        assert_eq!((second.dest, second.payload.as_slice()), (2, &b"bb\0"[..]));
        assert_eq!(decoder.decode(&mut empty, 16), Ok(None));
        let rest = frame(3, b"ccc");
        let mut input = &rest[3..];
        let third = decoder.decode(&mut input, 16).unwrap().unwrap();
        assert_eq!((third.dest, third.payload.as_slice()), (3, &b"ccc\0"[..]));
        assert_eq!(decoder.buffered_len(), 0);
        assert_eq!(decoder.capacity(), 0, "the buffer is released once empty");
    }

    #[test]
    fn clear_reports_whole_and_partial_frames() {
        let mut decoder = FrameDecoder::default();
        let mut bytes = frame(1, b"ab");
        bytes.extend(frame(0, b""));
        bytes.extend(&frame(3, b"xyz")[..6]);
        decoder.stash(&bytes);
        let discarded = decoder.clear();
        assert_eq!(
            discarded,
            Discarded {
                whole_frames: 2,
                whole_bytes: 4,
                partial_bytes: Some(2)
            }
        );
        assert_eq!((decoder.buffered_len(), decoder.capacity()), (0, 0));
        decoder.stash(&[0, 0]);
        assert_eq!(
            decoder.clear().partial_bytes,
            Some(0),
            "a partial header is a partial frame"
        );
    }
}
