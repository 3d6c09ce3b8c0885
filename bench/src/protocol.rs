//! The router's wire format, as a client sees it: a 4-byte ID on connect, frames
//! `dest: u32 BE | payload | 0x00` out, and `payload | 0x00` in.
//!
//! The `direct` backend reuses the inbound format on a plain socket pair, so both
//! measure the same framing and parsing work.

use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::BenchError;

/// The frame terminator; payloads never contain it.
pub(crate) const TERMINATOR: u8 = 0x00;

/// Read size: large, so one `read` returns many small frames.
const READ_CHUNK: usize = 256 * 1024;

/// Appends one outbound frame for the router: header, payload, terminator.
pub(crate) fn push_frame(out: &mut Vec<u8>, dest: Option<u32>, payload: &[u8]) {
    if let Some(dest) = dest {
        out.extend_from_slice(&dest.to_be_bytes());
    }
    out.extend_from_slice(payload);
    out.push(TERMINATOR);
}

/// Reads the 4-byte ID the router sends first on every connection.
pub(crate) async fn read_id(stream: &mut (impl AsyncRead + Unpin)) -> Result<u32, BenchError> {
    let mut id = [0u8; 4];
    stream.read_exact(&mut id).await.map_err(|err| {
        if err.kind() == std::io::ErrorKind::UnexpectedEof {
            BenchError::Protocol("connection closed before the router sent an ID".into())
        } else {
            err.into()
        }
    })?;
    Ok(u32::from_be_bytes(id))
}

/// Splits a byte stream into `0x00`-terminated payloads, whatever the fragmentation.
#[derive(Debug)]
pub(crate) struct FrameSplitter {
    buf: Vec<u8>,
    /// Start of the bytes not yet handed out (an incomplete frame).
    start: usize,
    /// End of the bytes read so far.
    end: usize,
}

impl FrameSplitter {
    /// A splitter whose buffer is allocated at the first read (`idle` holds thousands
    /// that never read), at [`READ_CHUNK`] bytes; it grows only when one frame is
    /// larger than that.
    pub(crate) fn new() -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            end: 0,
        }
    }

    /// Reads once from `io` and calls `on_payload` for every frame completed by these
    /// bytes, with the instant the read returned. Cancel-safe: if the future is dropped
    /// before the read completes, nothing was consumed.
    pub(crate) async fn read_from(
        &mut self,
        io: &mut (impl AsyncRead + Unpin),
        mut on_payload: impl FnMut(Instant, &[u8]),
    ) -> Result<(), BenchError> {
        self.make_room();
        let n = io.read(&mut self.buf[self.end..]).await?;
        if n == 0 {
            return Err(BenchError::Closed);
        }
        let now = Instant::now();
        self.end += n;
        self.split(&mut |payload| on_payload(now, payload));
        Ok(())
    }

    /// Hands out every complete frame in the buffer, without its terminator.
    fn split(&mut self, on_payload: &mut impl FnMut(&[u8])) {
        let mut pos = self.start;
        for terminator in memchr::memchr_iter(TERMINATOR, &self.buf[self.start..self.end]) {
            let end = self.start + terminator;
            on_payload(&self.buf[pos..end]);
            pos = end + 1;
        }
        self.start = pos;
    }

    /// Moves an incomplete frame to the front, and grows the buffer if that frame
    /// already fills it.
    fn make_room(&mut self) {
        if self.buf.is_empty() {
            self.buf.resize(READ_CHUNK, 0);
        }
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                self.buf.resize(self.buf.len() * 2, 0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` to a splitter in chunks of `chunk` bytes and collects the payloads.
    async fn split_in_chunks(bytes: &[u8], chunk: usize) -> Vec<Vec<u8>> {
        let (mut tx, mut rx) = tokio::io::duplex(chunk);
        let input = bytes.to_vec();
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for piece in input.chunks(chunk) {
                tx.write_all(piece).await.unwrap();
            }
        });
        let mut splitter = FrameSplitter::new();
        let mut payloads = Vec::new();
        while splitter
            .read_from(&mut rx, |_, p: &[u8]| payloads.push(p.to_vec()))
            .await
            .is_ok()
        {}
        writer.await.unwrap();
        payloads
    }

    #[tokio::test]
    async fn splits_frames_whatever_the_fragmentation() {
        let mut wire = Vec::new();
        let frames: Vec<Vec<u8>> = (1..40u8).map(|n| vec![n; n as usize * 17]).collect();
        for frame in &frames {
            push_frame(&mut wire, None, frame);
        }
        push_frame(&mut wire, None, b"");
        let mut expected = frames.clone();
        expected.push(Vec::new());
        for chunk in [1, 3, 64, 1000, wire.len()] {
            assert_eq!(
                split_in_chunks(&wire, chunk).await,
                expected,
                "chunk {chunk}"
            );
        }
    }

    #[tokio::test]
    async fn a_frame_larger_than_the_buffer_grows_it() {
        let big = vec![7u8; READ_CHUNK * 3];
        let mut wire = Vec::new();
        push_frame(&mut wire, None, &big);
        push_frame(&mut wire, None, b"after");
        let payloads = split_in_chunks(&wire, 8192).await;
        assert_eq!(payloads, vec![big, b"after".to_vec()]);
    }

    #[test]
    fn router_frames_carry_the_destination_first() {
        let mut wire = Vec::new();
        push_frame(&mut wire, Some(0x0102_0304), b"hi");
        assert_eq!(wire, [1, 2, 3, 4, b'h', b'i', 0]);
    }
}
