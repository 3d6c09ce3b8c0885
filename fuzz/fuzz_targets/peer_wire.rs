//! Batches from a peer, well-formed or damaged, through the decoder and a
//! router (`router_sim::fuzz::peer_wire`).

#![no_main]

use router_sim::fuzz::PeerWireInput;

libfuzzer_sys::fuzz_target!(|input: PeerWireInput| input.run());
