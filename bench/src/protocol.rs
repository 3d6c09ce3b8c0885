//! The router's wire format, as the load generator speaks it: `router-client`'s
//! encoder and decoder, sized for throughput.
//!
//! The `direct` backend reuses the router's output format (`payload | 0x00`) on a
//! plain socket pair, so both measure the same framing and parsing work.

use router_client::{Decoder, PayloadError, TERMINATOR};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::BenchError;

/// Read size: large, so one `read` returns many small frames.
const READ_CHUNK: usize = 256 * 1024;

/// The longest payload a receiver buffers: far above any `--size`, so that a
/// server that never terminates a payload fails the run instead of taking the
/// machine's memory.
const MAX_PAYLOAD: usize = 256 << 20;

/// Appends one outbound frame: for the router (`dest`), `router-client`'s frame;
/// on a `direct` socket, which has no router to strip a header, the payload and
/// its terminator.
pub(crate) fn push_frame(
    out: &mut Vec<u8>,
    dest: Option<u32>,
    payload: &[u8],
) -> Result<(), PayloadError> {
    match dest {
        Some(dest) => router_client::encode_frame(dest, payload, out),
        None => {
            router_client::check_payload(payload)?;
            out.extend_from_slice(payload);
            out.push(TERMINATOR);
            Ok(())
        }
    }
}

/// A decoder for what a receiver reads after the ID: payloads, each with its
/// terminator. Its buffer is allocated at the first read (`idle` holds
/// thousands of connections that never read).
pub(crate) fn payload_decoder() -> Decoder {
    Decoder::without_id()
        .with_read_size(READ_CHUNK)
        .with_max_payload(MAX_PAYLOAD)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn router_frames_carry_the_destination_first_and_direct_ones_do_not() {
        let mut wire = Vec::new();
        push_frame(&mut wire, Some(0x0102_0304), b"hi").unwrap();
        push_frame(&mut wire, None, b"yo").unwrap();
        assert_eq!(wire, [1, 2, 3, 4, b'h', b'i', 0, b'y', b'o', 0]);
        assert!(push_frame(&mut wire, None, b"n\0").is_err());
        assert_eq!(wire.len(), 10, "a refused payload writes nothing");
    }
}
