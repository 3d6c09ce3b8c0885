//! The core's frame decoder against a byte-by-byte reference decoder, on the
//! same bytes cut at fuzzer-chosen points (`router_sim::fuzz::frame_parser`).

#![no_main]

use router_sim::fuzz::FrameParserInput;

libfuzzer_sys::fuzz_target!(|input: FrameParserInput| input.run());
