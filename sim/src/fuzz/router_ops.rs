//! The `router_ops` target: a fuzzer-chosen configuration with small limits
//! and a sequence of [`Op`]s, run through the [`Sim`], which drives the router
//! and checks every invariant after every operation.

use arbitrary::{Arbitrary, Unstructured};

use crate::{Op, Sim, small_config};

/// What the fuzzer chooses: the limits, and what happens.
#[derive(Debug, Arbitrary)]
pub struct RouterOpsInput {
    /// Picks the [`Config`](router_core::Config), through [`small_config`].
    pub config_selector: u64,
    /// Applied in order; then the world settles and is checked once more.
    pub ops: Vec<Op>,
}

impl RouterOpsInput {
    /// Runs the operations, panicking at the first broken invariant.
    pub fn run(&self) {
        let mut sim = Sim::new(small_config(self.config_selector));
        for op in &self.ops {
            sim.apply(op);
        }
        sim.settle_and_check();
    }
}

/// The target on raw fuzzer bytes, parsed as `cargo fuzz` parses them.
pub fn router_ops(data: &[u8]) {
    if let Ok(input) = RouterOpsInput::arbitrary_take_rest(Unstructured::new(data)) {
        input.run();
    }
}
