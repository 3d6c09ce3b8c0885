//! The `cluster_ops` target: a fuzzer-chosen configuration, number of
//! routers and sequence of [`ClusterOp`]s, run through the [`Cluster`],
//! which checks every invariant after every operation and once settled.

use arbitrary::{Arbitrary, Unstructured};

use crate::cluster::{Cluster, ClusterOp, cluster_config};

/// What the fuzzer chooses: the limits, the cluster's size, what happens.
#[derive(Debug, Arbitrary)]
pub struct ClusterOpsInput {
    /// Picks the [`Config`](router_core::Config), through [`cluster_config`].
    pub config_selector: u64,
    /// 2 to 4 routers: `2 + routers % 3`.
    pub routers: u8,
    /// Applied in order; then the cluster settles and is checked once more.
    pub ops: Vec<ClusterOp>,
}

impl ClusterOpsInput {
    /// Runs the operations, panicking at the first broken invariant.
    pub fn run(&self) {
        let config = cluster_config(self.config_selector);
        let mut cluster = Cluster::new(&config, 2 + usize::from(self.routers % 3));
        for op in &self.ops {
            cluster.apply(op);
        }
        cluster.settle_and_check();
    }
}

/// The target on raw fuzzer bytes, parsed as `cargo fuzz` parses them.
pub fn cluster_ops(data: &[u8]) {
    if let Ok(input) = ClusterOpsInput::arbitrary_take_rest(Unstructured::new(data)) {
        input.run();
    }
}
