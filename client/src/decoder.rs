//! What a client reads: its 4-byte ID, then delivered payloads, each followed by
//! `0x00`, cut anywhere by the network.

use thiserror::Error;

use crate::frame::TERMINATOR;

/// The longest payload a [`Decoder`] accepts by default: the router's own
/// default `max_frame_bytes`, so the router never delivers a longer one.
pub const DEFAULT_MAX_PAYLOAD: usize = 1 << 20;

/// How many bytes a [`Decoder`] offers to each read by default.
pub const DEFAULT_READ_SIZE: usize = 16 * 1024;

/// Why the bytes a client read are not what the router sends.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// A payload ran past the decoder's limit without its terminator. The
    /// router never delivers a payload longer than its `max_frame_bytes`: set
    /// the limit ([`Decoder::with_max_payload`]) to at least that.
    #[error(
        "the router delivered more than {limit} bytes without a terminator; \
         raise the client's payload limit to the router's max_frame_bytes"
    )]
    PayloadTooLong {
        /// The limit in force.
        limit: usize,
    },
    /// The connection ended before the router sent an ID: it was at its
    /// connection limit, or shutting down.
    #[error(
        "the router closed the connection before sending an ID \
         (it is at its connection limit, or shutting down)"
    )]
    NoId,
    /// The connection ended in the middle of a payload.
    #[error("the connection closed in the middle of a payload ({received} bytes of it received)")]
    Truncated {
        /// How many bytes of the cut payload had arrived.
        received: usize,
    },
}

/// The client's side of the router's output, with no IO: feed it the bytes
/// read from the socket, in whatever pieces they came, and take the ID and
/// then each payload out.
///
/// To read without copying, read straight into [`Decoder::read_buf`] and
/// report how many bytes arrived with [`Decoder::filled`]; or hand it bytes
/// read elsewhere with [`Decoder::handle_input`]. After either, call
/// [`Decoder::poll_payload`] until it returns `Ok(None)`. When the socket
/// reports EOF, [`Decoder::handle_eof`] says whether it came at a clean point.
///
/// Memory: nothing is allocated before the first read; the buffer holds at
/// most one incomplete payload (bounded by [`Decoder::with_max_payload`]) plus
/// one read.
///
/// ```
/// use router_client::Decoder;
///
/// let mut decoder = Decoder::new();
/// // The router's bytes, cut anywhere: ID 7, then "hi\0" and "\0".
/// for piece in [&[0, 0][..], &[0, 7, b'h'], &[b'i', 0, 0]] {
///     decoder.handle_input(piece);
/// }
/// assert_eq!(decoder.id(), Some(7));
/// assert_eq!(decoder.poll_payload()?, Some(&b"hi"[..]));
/// assert_eq!(decoder.poll_payload()?, Some(&b""[..]));
/// assert_eq!(decoder.poll_payload()?, None);
/// decoder.handle_eof()?; // a clean end: nothing was cut
/// # Ok::<(), router_client::DecodeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Decoder {
    buf: Vec<u8>,
    /// The first byte not yet handed out.
    start: usize,
    /// The end of the bytes read.
    end: usize,
    /// Bytes from `start` on already searched for a terminator, so that a
    /// payload arriving a byte at a time is scanned once, not once per byte.
    scanned: usize,
    id: IdState,
    max_payload: usize,
    read_size: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdState {
    /// The first 4 bytes are the ID, not yet complete.
    Expected,
    Known(u32),
    /// The stream has no ID in front.
    Absent,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder for a new connection: the first 4 bytes are its ID.
    pub fn new() -> Self {
        Decoder {
            buf: Vec::new(),
            start: 0,
            end: 0,
            scanned: 0,
            id: IdState::Expected,
            max_payload: DEFAULT_MAX_PAYLOAD,
            read_size: DEFAULT_READ_SIZE,
        }
    }

    /// A decoder for a stream of payloads with no ID in front: a connection
    /// whose ID was read already, or a recording of deliveries.
    pub fn without_id() -> Self {
        Decoder {
            id: IdState::Absent,
            ..Self::new()
        }
    }

    /// Refuses payloads longer than `limit` bytes ([`DecodeError::PayloadTooLong`])
    /// instead of buffering them; the default is [`DEFAULT_MAX_PAYLOAD`]. Set it
    /// to the router's `max_frame_bytes`.
    pub fn with_max_payload(mut self, limit: usize) -> Self {
        self.max_payload = limit;
        self
    }

    /// Offers at least `bytes` to each read ([`Decoder::read_buf`]); the
    /// default is [`DEFAULT_READ_SIZE`]. Larger reads take many small payloads
    /// per system call.
    pub fn with_read_size(mut self, bytes: usize) -> Self {
        self.read_size = bytes.max(1);
        self
    }

    /// The ID the router gave this connection, once its 4 bytes have arrived;
    /// `None` before, and always for [`Decoder::without_id`].
    pub fn id(&self) -> Option<u32> {
        match self.id {
            IdState::Known(id) => Some(id),
            IdState::Expected | IdState::Absent => None,
        }
    }

    /// Space to read the next bytes into: at least the read size. Report how
    /// many were read with [`Decoder::filled`].
    pub fn read_buf(&mut self) -> &mut [u8] {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            self.scanned = 0;
        }
        if self.buf.len() - self.end < self.read_size {
            // Move the incomplete payload to the front, then grow if that
            // is not enough.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.buf.len() - self.end < self.read_size {
                self.buf.resize(self.end + self.read_size, 0);
            }
        }
        &mut self.buf[self.end..]
    }

    /// Records that the first `n` bytes of [`Decoder::read_buf`] were read.
    ///
    /// # Panics
    /// If `n` is larger than the slice `read_buf` returned.
    pub fn filled(&mut self, n: usize) {
        assert!(
            self.end + n <= self.buf.len(),
            "filled more than read_buf offered"
        );
        self.end += n;
        if self.id == IdState::Expected && self.end - self.start >= 4 {
            let id: [u8; 4] = self.buf[self.start..self.start + 4]
                .try_into()
                .expect("4 bytes");
            self.id = IdState::Known(u32::from_be_bytes(id));
            self.start += 4;
        }
    }

    /// Takes bytes read from the connection, copying them in.
    pub fn handle_input(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let room = self.read_buf();
            let n = room.len().min(bytes.len());
            room[..n].copy_from_slice(&bytes[..n]);
            self.filled(n);
            bytes = &bytes[n..];
        }
    }

    /// The next complete payload, without its terminator, or `None` until
    /// more bytes arrive. Call it until it returns `Ok(None)` after every
    /// input.
    ///
    /// After an error the connection is beyond repair: close it.
    pub fn poll_payload(&mut self) -> Result<Option<&[u8]>, DecodeError> {
        if self.id == IdState::Expected {
            return Ok(None);
        }
        let unscanned = &self.buf[self.start + self.scanned..self.end];
        match memchr::memchr(TERMINATOR, unscanned) {
            Some(at) => {
                let payload_start = self.start;
                let terminator = self.start + self.scanned + at;
                if terminator - payload_start > self.max_payload {
                    return Err(self.too_long());
                }
                self.start = terminator + 1;
                self.scanned = 0;
                Ok(Some(&self.buf[payload_start..terminator]))
            }
            None => {
                self.scanned = self.end - self.start;
                if self.scanned > self.max_payload {
                    return Err(self.too_long());
                }
                Ok(None)
            }
        }
    }

    /// Says whether the connection ended at a clean point: after the ID and
    /// between payloads. Call it once the socket reports EOF and
    /// [`Decoder::poll_payload`] has returned `Ok(None)`.
    pub fn handle_eof(&self) -> Result<(), DecodeError> {
        match self.id {
            IdState::Expected => Err(DecodeError::NoId),
            _ if self.start < self.end => Err(DecodeError::Truncated {
                received: self.end - self.start,
            }),
            _ => Ok(()),
        }
    }

    fn too_long(&self) -> DecodeError {
        DecodeError::PayloadTooLong {
            limit: self.max_payload,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode_frame;

    /// The router's bytes for ID `id` followed by `payloads`, as delivered.
    fn router_output(id: u32, payloads: &[&[u8]]) -> Vec<u8> {
        let mut wire = id.to_be_bytes().to_vec();
        for payload in payloads {
            wire.extend_from_slice(payload);
            wire.push(0);
        }
        wire
    }

    /// Feeds `pieces` one by one, draining payloads after each.
    fn decode(decoder: &mut Decoder, pieces: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut payloads = Vec::new();
        for piece in pieces {
            decoder.handle_input(piece);
            while let Some(payload) = decoder.poll_payload().unwrap() {
                payloads.push(payload.to_vec());
            }
        }
        payloads
    }

    const PAYLOADS: [&[u8]; 4] = [b"hello", b"", b"\x01\xff binary \x7f", b"last"];

    #[test]
    fn cut_in_two_at_every_byte() {
        let wire = router_output(0xdead_beef, &PAYLOADS);
        for cut in 0..=wire.len() {
            let mut decoder = Decoder::new();
            let (a, b) = wire.split_at(cut);
            let payloads = decode(&mut decoder, &[a, b]);
            assert_eq!(decoder.id(), Some(0xdead_beef), "cut at {cut}");
            assert_eq!(payloads, PAYLOADS, "cut at {cut}");
            decoder.handle_eof().unwrap();
        }
    }

    #[test]
    fn cut_in_three_at_every_pair_of_bytes() {
        let wire = router_output(0x0102_0304, &PAYLOADS);
        for first in 0..=wire.len() {
            for second in first..=wire.len() {
                let mut decoder = Decoder::new();
                let pieces = [&wire[..first], &wire[first..second], &wire[second..]];
                let payloads = decode(&mut decoder, &pieces);
                assert_eq!(payloads, PAYLOADS, "cuts at {first} and {second}");
                assert_eq!(decoder.id(), Some(0x0102_0304));
                decoder.handle_eof().unwrap();
            }
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let wire = router_output(3, &PAYLOADS);
        let mut decoder = Decoder::new().with_read_size(1);
        let pieces: Vec<&[u8]> = wire.chunks(1).collect();
        let mut seen_id = None;
        let mut payloads = Vec::new();
        for (at, piece) in pieces.iter().enumerate() {
            payloads.extend(decode(&mut decoder, &[piece]));
            seen_id = seen_id.or(decoder.id());
            assert_eq!(decoder.id().is_some(), at >= 3, "after byte {at}");
        }
        assert_eq!(seen_id, Some(3));
        assert_eq!(payloads, PAYLOADS);
    }

    #[test]
    fn many_payloads_in_one_read() {
        let many: Vec<Vec<u8>> = (1..200u8).map(|n| vec![n; usize::from(n)]).collect();
        let refs: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
        let wire = router_output(1, &refs);
        let mut decoder = Decoder::new();
        assert_eq!(decode(&mut decoder, &[&wire]), many);
    }

    #[test]
    fn reading_into_read_buf_needs_no_copy() {
        let wire = router_output(5, &PAYLOADS);
        let mut decoder = Decoder::new().with_read_size(4);
        let mut payloads = Vec::new();
        let mut rest = &wire[..];
        while !rest.is_empty() {
            let room = decoder.read_buf();
            assert!(room.len() >= 4);
            let n = room.len().min(rest.len()).min(3);
            room[..n].copy_from_slice(&rest[..n]);
            decoder.filled(n);
            rest = &rest[n..];
            while let Some(payload) = decoder.poll_payload().unwrap() {
                payloads.push(payload.to_vec());
            }
        }
        assert_eq!(payloads, PAYLOADS);
    }

    #[test]
    fn a_stream_without_an_id_starts_with_payloads() {
        let mut decoder = Decoder::without_id();
        assert_eq!(decode(&mut decoder, &[b"ab\0c", b"\0"]), [&b"ab"[..], b"c"]);
        assert_eq!(decoder.id(), None);
    }

    #[test]
    fn a_payload_at_the_limit_passes_and_one_past_it_is_refused() {
        let mut decoder = Decoder::without_id().with_max_payload(4);
        assert_eq!(decode(&mut decoder, &[b"four\0"]), [b"four"]);
        decoder.handle_input(b"fiv");
        assert_eq!(decoder.poll_payload(), Ok(None));
        decoder.handle_input(b"e");
        assert_eq!(
            decoder.poll_payload(),
            Ok(None),
            "4 bytes, no terminator yet"
        );
        decoder.handle_input(b"!");
        assert_eq!(
            decoder.poll_payload(),
            Err(DecodeError::PayloadTooLong { limit: 4 })
        );
    }

    #[test]
    fn an_overlong_payload_is_refused_even_with_its_terminator() {
        let mut decoder = Decoder::without_id().with_max_payload(2);
        decoder.handle_input(b"abc\0");
        assert_eq!(
            decoder.poll_payload(),
            Err(DecodeError::PayloadTooLong { limit: 2 })
        );
    }

    #[test]
    fn eof_before_the_id_or_inside_a_payload_is_an_error() {
        let mut decoder = Decoder::new();
        decoder.handle_input(&[0, 0, 1]);
        assert_eq!(decoder.handle_eof(), Err(DecodeError::NoId));
        decoder.handle_input(&[2, b'p', b'a']);
        assert_eq!(decoder.poll_payload(), Ok(None));
        assert_eq!(
            decoder.handle_eof(),
            Err(DecodeError::Truncated { received: 2 })
        );
    }

    #[test]
    fn frames_a_client_sends_decode_as_what_the_router_delivers() {
        // The router strips each frame's 4-byte header; with it stripped,
        // the encoder's output is the decoder's input.
        let mut delivered = Vec::new();
        for payload in PAYLOADS {
            let mut frame = Vec::new();
            encode_frame(42, payload, &mut frame).unwrap();
            delivered.extend_from_slice(&frame[4..]);
        }
        let mut decoder = Decoder::without_id();
        assert_eq!(decode(&mut decoder, &[&delivered]), PAYLOADS);
    }

    #[test]
    fn the_buffer_stays_bounded_by_one_payload_and_one_read() {
        let mut decoder = Decoder::without_id().with_read_size(64);
        let payload = vec![b'x'; 1000];
        for _ in 0..100 {
            decoder.handle_input(&payload);
            decoder.handle_input(&[0]);
            assert_eq!(decoder.poll_payload().unwrap().map(<[u8]>::len), Some(1000));
        }
        assert!(decoder.buf.len() <= 1000 + 64 + 64, "{}", decoder.buf.len());
    }
}
