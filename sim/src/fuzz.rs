//! The fuzz targets, as plain functions of the fuzzer's bytes.
//!
//! The `fuzz/` project (built only by `cargo +nightly fuzz`) calls nothing but
//! these, and this crate's `tests/fuzz_corpus.rs` replays the checked-in corpus
//! and every regression through them on the stable toolchain: CI runs exactly
//! the checks the fuzzer runs. Each target panics when an invariant breaks.
//!
//! The inputs derive [`Arbitrary`](arbitrary::Arbitrary), so the fuzz targets
//! take them typed and `cargo fuzz fmt` prints a crashing input as operations.

mod cluster_ops;
mod frame_parser;
mod peer_wire;
mod reference_decoder;
mod router_ops;

pub use cluster_ops::{ClusterOpsInput, cluster_ops};
pub use frame_parser::{FrameParserInput, frame_parser};
pub use peer_wire::{PeerWireInput, peer_wire};
pub use router_ops::{RouterOpsInput, router_ops};

/// A fuzz target: takes the fuzzer's bytes, panics on a broken invariant.
pub type FuzzTarget = fn(&[u8]);

/// Every target, by the name its corpus directory and its `cargo fuzz` binary
/// have.
pub const TARGETS: [(&str, FuzzTarget); 4] = [
    ("cluster_ops", cluster_ops),
    ("frame_parser", frame_parser),
    ("peer_wire", peer_wire),
    ("router_ops", router_ops),
];
