//! The `frame_parser` target: the core's [`FrameDecoder`] against the
//! [`ReferenceDecoder`], on the same bytes cut at fuzzer-chosen points. They
//! must agree on every frame (destination, payload and terminator), on the
//! oversize verdict and where it falls, and on what is left buffered.

use arbitrary::{Arbitrary, Unstructured};
use router_core::frame::FrameDecoder;

use super::reference_decoder::ReferenceDecoder;

/// What the fuzzer chooses: the limit, and the calls a router makes.
#[derive(Debug, Arbitrary)]
pub struct FrameParserInput {
    /// The payload limit, small so that frames break it.
    pub max_payload: u8,
    /// Calls on the decoder, in order; their bytes form one stream.
    pub steps: Vec<Step>,
}

/// One call on the decoder, as the router makes them.
#[derive(Debug, Arbitrary)]
pub enum Step {
    /// A read: `decode` until it returns `None`, or the oversize error.
    Decode(Vec<u8>),
    /// A read while the sender is paused: buffered undecoded, to come out of
    /// the next `Decode`.
    Stash(Vec<u8>),
    /// The connection closes: everything buffered is discarded and counted.
    Clear,
}

/// How a read ended.
enum ReadEnd {
    /// Every whole frame decoded; the rest is buffered.
    Pending,
    /// The oversize error: the decoder must not be used again.
    TooLarge,
}

impl FrameParserInput {
    /// Runs both decoders, panicking where they disagree.
    pub fn run(&self) {
        let max_payload = usize::from(self.max_payload);
        let mut decoder = FrameDecoder::default();
        let mut reference = ReferenceDecoder::new(max_payload);
        for step in &self.steps {
            match step {
                Step::Decode(bytes) => {
                    reference.push(bytes);
                    let end = decode_read(&mut decoder, &mut reference, bytes, max_payload);
                    if let ReadEnd::TooLarge = end {
                        return;
                    }
                }
                Step::Stash(bytes) => {
                    reference.push(bytes);
                    decoder.stash(bytes);
                }
                Step::Clear => {
                    // Past a frame over the limit the stream has no meaning
                    // (the router closes its sender at the error), so what
                    // `clear` counts beyond it is not compared.
                    let comparable = reference.oversize().is_none();
                    let expected = reference.clear();
                    let discarded = decoder.clear();
                    if comparable {
                        assert_eq!(discarded, expected, "clear");
                    }
                    assert_eq!(
                        (decoder.buffered_len(), decoder.capacity()),
                        (0, 0),
                        "clear keeps bytes or memory"
                    );
                }
            }
        }
    }
}

/// Decodes one read as the router does, comparing each frame with the
/// reference's, and the state the read leaves.
fn decode_read(
    decoder: &mut FrameDecoder,
    reference: &mut ReferenceDecoder,
    bytes: &[u8],
    max_payload: usize,
) -> ReadEnd {
    let mut input = bytes;
    loop {
        match decoder.decode(&mut input, max_payload) {
            Ok(Some(frame)) => {
                let Some((dest, payload)) = reference.next_frame() else {
                    panic!(
                        "decoded a frame the reference does not have: {frame:?} (reference oversize: {:?})",
                        reference.oversize()
                    );
                };
                assert_eq!(
                    (frame.dest, frame.payload.as_slice()),
                    (dest, payload.as_slice()),
                    "frame differs"
                );
            }
            Ok(None) => {
                assert!(input.is_empty(), "None with {} bytes unread", input.len());
                assert_eq!(reference.next_frame(), None, "the decoder missed a frame");
                assert_eq!(reference.oversize(), None, "the decoder missed an oversize");
                assert_eq!(
                    decoder.buffered_len(),
                    reference.partial_len(),
                    "buffered bytes differ from the unfinished frame"
                );
                if decoder.buffered_len() == 0 {
                    assert_eq!(decoder.capacity(), 0, "an idle decoder holds memory");
                }
                return ReadEnd::Pending;
            }
            Err(too_large) => {
                assert_eq!(
                    reference.next_frame(),
                    None,
                    "oversize reported before a frame that precedes it"
                );
                let Some((dest, received)) = reference.oversize() else {
                    panic!("oversize the reference does not see: {too_large:?}");
                };
                assert_eq!(
                    (too_large.dest, too_large.limit, too_large.received),
                    (dest, max_payload, received),
                    "oversize error differs"
                );
                return ReadEnd::TooLarge;
            }
        }
    }
}

/// The target on raw fuzzer bytes, parsed as `cargo fuzz` parses them.
pub fn frame_parser(data: &[u8]) {
    if let Ok(input) = FrameParserInput::arbitrary_take_rest(Unstructured::new(data)) {
        input.run();
    }
}
