//! The bytes queued for one connection, in the order they go on the wire.
//!
//! Frames that arrive whole in one read are copied once, straight into a
//! contiguous tail buffer, so a run of small frames leaves as one large write
//! and no read buffer is pinned by a slow destination. Frames reassembled
//! across reads are already owned (`Bytes`) and are queued without a copy;
//! the decoder hands one over only when it pins at most
//! [`PIN_FACTOR`](crate::frame::PIN_FACTOR) times its size, so counting a
//! chunk by its length stays within that factor of what it holds.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

#[derive(Debug, Default)]
pub(crate) struct OutboundQueue {
    /// Owned chunks, all of which go before `tail`.
    chunks: VecDeque<Bytes>,
    /// Coalesced small frames, written after every chunk.
    tail: BytesMut,
    /// Total bytes in `chunks` and `tail`.
    len: usize,
    /// Bytes of the client's ID still at the front of the queue. The ID may hold
    /// zero bytes, which must not be taken for frame terminators when counting.
    id_unsent: usize,
    /// Bytes written off the front buffer (the first chunk, or the tail when
    /// there is none), which stay allocated until that buffer is released.
    written_front: usize,
}

impl OutboundQueue {
    /// A queue that starts with the client's 4-byte ID.
    pub(crate) fn with_id(id: u32) -> Self {
        let mut queue = OutboundQueue::default();
        queue.tail.extend_from_slice(&id.to_be_bytes());
        queue.len = 4;
        queue.id_unsent = 4;
        queue
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes held, for memory accounting: what is queued, what of the
    /// front buffer is written but still allocated, the tail's spare room.
    pub(crate) fn capacity(&self) -> usize {
        // The chunks hold every queued byte but the tail's.
        self.tail.capacity()
            + self.written_front
            + (self.len - self.tail.len())
            + self.chunks.capacity() * size_of::<Bytes>()
    }

    /// Copies a payload onto the end of the queue.
    pub(crate) fn push_slice(&mut self, payload: &[u8]) {
        self.tail.extend_from_slice(payload);
        self.len += payload.len();
    }

    /// Queues an owned payload without copying it.
    pub(crate) fn push_bytes(&mut self, payload: Bytes) {
        if !self.tail.is_empty() {
            self.chunks.push_back(self.tail.split().freeze());
        }
        self.len += payload.len();
        self.chunks.push_back(payload);
    }

    /// Fills `out` with the queued bytes, front first; returns how many slices
    /// it filled.
    pub(crate) fn io_slices<'a>(&'a self, out: &mut [IoSlice<'a>]) -> usize {
        let sources = self
            .chunks
            .iter()
            .map(|chunk| &chunk[..])
            .chain((!self.tail.is_empty()).then_some(&self.tail[..]));
        let mut filled = 0;
        for (slot, source) in out.iter_mut().zip(sources) {
            *slot = IoSlice::new(source);
            filled += 1;
        }
        filled
    }

    /// Removes the first `n` bytes, which the connection has written.
    pub(crate) fn consume(&mut self, mut n: usize) {
        assert!(n <= self.len, "consumed {n} of {} queued bytes", self.len);
        self.len -= n;
        self.id_unsent = self.id_unsent.saturating_sub(n);
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                self.tail.advance(n);
                self.written_front += n;
                break;
            };
            let step = n.min(front.len());
            front.advance(step);
            n -= step;
            if front.is_empty() {
                self.chunks.pop_front();
                self.written_front = 0;
            } else {
                self.written_front += step;
            }
        }
        if self.len == 0 {
            // Everything is written: release the buffers. An idle connection
            // then holds no heap at all, whether it last sent its ID or a
            // burst of frames (100 000 connections that each once received
            // 8 KiB would otherwise keep 800 MB). The next frame allocates
            // afresh, once per burst rather than once per frame, since frames
            // arriving together coalesce into one tail.
            *self = OutboundQueue::default();
        }
    }

    /// Empties the queue. Returns the frames and bytes discarded (the ID, if
    /// still unsent, is not a frame and not counted).
    pub(crate) fn clear(&mut self) -> (u64, u64) {
        let mut frames = 0;
        let mut skip = self.id_unsent;
        let sources = self.chunks.iter().map(|c| &c[..]).chain([&self.tail[..]]);
        for source in sources {
            let counted = &source[skip.min(source.len())..];
            skip -= source.len() - counted.len();
            frames += memchr::memchr_iter(0, counted).count() as u64;
        }
        let bytes = (self.len - self.id_unsent) as u64;
        *self = OutboundQueue::default();
        (frames, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX_IO_SLICES: usize = 64;

    fn drain(queue: &OutboundQueue) -> Vec<u8> {
        let mut slices = [IoSlice::new(&[]); MAX_IO_SLICES];
        let n = queue.io_slices(&mut slices);
        slices[..n].iter().flat_map(|s| s.iter().copied()).collect()
    }

    #[test]
    fn keeps_wire_order_across_copied_and_owned_payloads() {
        let mut queue = OutboundQueue::with_id(0x0102_0300);
        queue.push_slice(b"ab\0");
        queue.push_bytes(Bytes::from_static(b"cd\0"));
        queue.push_slice(b"e\0");
        assert_eq!(drain(&queue), b"\x01\x02\x03\x00ab\0cd\0e\0");
        assert_eq!(queue.len(), 12);
        queue.consume(6);
        assert_eq!(drain(&queue), b"\0cd\0e\0");
        queue.consume(3);
        assert_eq!(drain(&queue), b"\0e\0");
    }

    #[test]
    fn clear_counts_frames_but_not_the_id() {
        let mut queue = OutboundQueue::with_id(0);
        queue.push_slice(b"a\0");
        queue.push_bytes(Bytes::from_static(b"\0"));
        assert_eq!(queue.clear(), (2, 3));
        let mut partly_written = OutboundQueue::with_id(0);
        partly_written.push_slice(b"abc\0def\0");
        partly_written.consume(6);
        assert_eq!(partly_written.clear(), (2, 6));
        assert!(partly_written.is_empty());
    }
}
