//! What a client writes, held until the socket takes it, so that a frame is
//! never half-sent: a write that the socket takes only in part, or a send
//! that is cancelled or refused midway, leaves the rest here to go first.

use std::io;

use crate::frame::{PayloadError, encode_frame};

/// Frames queued for one connection and not yet taken by its socket.
///
/// Queue frames with [`Encoder::push`], write [`Encoder::pending`] to the
/// socket, and report what it took with [`Encoder::consume`] (or let
/// [`Encoder::write_with`] do both). Everything queued is written in order,
/// so frames are never interleaved or cut on the wire.
///
/// ```
/// use router_client::Encoder;
///
/// let mut encoder = Encoder::new();
/// encoder.push(1, b"hi")?;
/// assert_eq!(encoder.pending(), [0, 0, 0, 1, b'h', b'i', 0]);
/// encoder.consume(3); // the socket took 3 bytes
/// assert_eq!(encoder.pending(), [1, b'h', b'i', 0]);
/// # Ok::<(), router_client::PayloadError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Encoder {
    buf: Vec<u8>,
    /// How much of `buf` the socket has taken.
    written: usize,
}

impl Encoder {
    /// An encoder with nothing queued; it allocates at the first frame.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues the frame that sends `payload` to `dest`. A payload containing
    /// `0x00` is refused and nothing is queued.
    pub fn push(&mut self, dest: u32, payload: &[u8]) -> Result<(), PayloadError> {
        if self.written == self.buf.len() {
            self.buf.clear();
            self.written = 0;
        }
        encode_frame(dest, payload, &mut self.buf)
    }

    /// The bytes to write next.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.written..]
    }

    /// Whether everything queued has been written.
    pub fn is_empty(&self) -> bool {
        self.written == self.buf.len()
    }

    /// Records that the socket took the first `n` bytes of [`Encoder::pending`].
    ///
    /// # Panics
    /// If `n` is more than is pending.
    pub fn consume(&mut self, n: usize) {
        assert!(n <= self.pending().len(), "consumed more than was pending");
        self.written += n;
    }

    /// Writes what is pending with `write` (a socket's `write`, blocking or
    /// not) until all of it is written (`Ok(true)`) or `write` would block
    /// (`Ok(false)`). Retries `Interrupted`; a write of 0 bytes is an error
    /// (`WriteZero`), since the peer can take no more.
    pub fn write_with(
        &mut self,
        mut write: impl FnMut(&[u8]) -> io::Result<usize>,
    ) -> io::Result<bool> {
        while !self.is_empty() {
            match write(self.pending()) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.consume(n),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(error) => return Err(error),
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_writes_resume_where_they_stopped() {
        let mut encoder = Encoder::new();
        encoder.push(1, b"abc").unwrap();
        encoder.push(2, b"de").unwrap();
        let mut wire = Vec::new();
        let mut calls = 0;
        // A socket that takes 2 bytes per write, and would block every 3rd call.
        let mut done = false;
        while !done {
            done = encoder
                .write_with(|bytes| {
                    calls += 1;
                    if calls % 3 == 0 {
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                    let n = bytes.len().min(2);
                    wire.extend_from_slice(&bytes[..n]);
                    Ok(n)
                })
                .unwrap();
        }
        assert_eq!(
            wire,
            [0, 0, 0, 1, b'a', b'b', b'c', 0, 0, 0, 0, 2, b'd', b'e', 0]
        );
        assert!(encoder.is_empty());
    }

    #[test]
    fn a_refused_payload_queues_nothing() {
        let mut encoder = Encoder::new();
        encoder.push(1, b"ok").unwrap();
        assert!(encoder.push(1, b"n\0").is_err());
        assert_eq!(encoder.pending(), [0, 0, 0, 1, b'o', b'k', 0]);
    }

    #[test]
    fn interrupted_is_retried_and_a_zero_write_is_an_error() {
        let mut encoder = Encoder::new();
        encoder.push(1, b"x").unwrap();
        let mut interrupted = false;
        let error = encoder
            .write_with(|_| {
                if interrupted {
                    Ok(0)
                } else {
                    interrupted = true;
                    Err(io::ErrorKind::Interrupted.into())
                }
            })
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WriteZero);
        assert_eq!(encoder.pending().len(), 6);
    }
}
