//! The one frame format a client writes: `[dest: u32 BE][payload][0x00]`.

use thiserror::Error;

/// The byte that ends every frame and every delivered payload; a payload never
/// contains it.
pub const TERMINATOR: u8 = 0x00;

/// Bytes a frame adds around its payload: the 4-byte destination and the terminator.
pub const FRAME_OVERHEAD: usize = 5;

/// Why a payload cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PayloadError {
    /// The payload holds the terminator, which would end the frame early and
    /// turn the rest of the payload into a frame of its own.
    #[error(
        "the payload contains a 0x00 byte (at offset {offset}), which the protocol \
         reserves as the frame terminator; nothing was sent"
    )]
    ContainsTerminator {
        /// Where the first `0x00` is.
        offset: usize,
    },
}

/// Checks that `payload` can be sent: it holds no `0x00`.
pub fn check_payload(payload: &[u8]) -> Result<(), PayloadError> {
    match memchr::memchr(TERMINATOR, payload) {
        Some(offset) => Err(PayloadError::ContainsTerminator { offset }),
        None => Ok(()),
    }
}

/// Appends the frame that sends `payload` to client `dest` to `out`:
/// `dest` (big-endian), `payload`, `0x00`.
///
/// A payload containing `0x00` is refused and `out` is left as it was: the
/// protocol cannot carry it, and truncating it would deliver something else.
///
/// ```
/// let mut wire = Vec::new();
/// router_client::encode_frame(0x0102_0304, b"hi", &mut wire)?;
/// assert_eq!(wire, [1, 2, 3, 4, b'h', b'i', 0]);
/// assert!(router_client::encode_frame(7, b"a\0b", &mut wire).is_err());
/// assert_eq!(wire.len(), 7);
/// # Ok::<(), router_client::PayloadError>(())
/// ```
pub fn encode_frame(dest: u32, payload: &[u8], out: &mut Vec<u8>) -> Result<(), PayloadError> {
    check_payload(payload)?;
    out.reserve(payload.len() + FRAME_OVERHEAD);
    out.extend_from_slice(&dest.to_be_bytes());
    out.extend_from_slice(payload);
    out.push(TERMINATOR);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_payload_is_a_frame() {
        let mut wire = Vec::new();
        encode_frame(u32::MAX, b"", &mut wire).unwrap();
        assert_eq!(wire, [0xff, 0xff, 0xff, 0xff, 0]);
    }

    #[test]
    fn frames_append() {
        let mut wire = Vec::new();
        encode_frame(1, b"a", &mut wire).unwrap();
        encode_frame(2, b"bc", &mut wire).unwrap();
        assert_eq!(wire, [0, 0, 0, 1, b'a', 0, 0, 0, 0, 2, b'b', b'c', 0]);
    }

    #[test]
    fn a_zero_anywhere_is_refused_and_nothing_is_written() {
        for payload in [&b"\0"[..], b"\0abc", b"ab\0c", b"abc\0"] {
            let mut wire = b"kept".to_vec();
            let offset = payload.iter().position(|&b| b == 0).unwrap();
            assert_eq!(
                encode_frame(9, payload, &mut wire),
                Err(PayloadError::ContainsTerminator { offset })
            );
            assert_eq!(wire, b"kept");
        }
    }

    #[test]
    fn the_error_says_what_was_wrong() {
        let message = check_payload(b"ab\0").unwrap_err().to_string();
        assert!(message.contains("0x00"), "{message}");
        assert!(message.contains("offset 2"), "{message}");
    }
}
