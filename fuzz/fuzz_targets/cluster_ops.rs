//! A fuzzer-chosen cluster of routers and sequence of operations on it, every
//! invariant checked after each (`router_sim::fuzz::cluster_ops`).

#![no_main]

use router_sim::fuzz::ClusterOpsInput;

libfuzzer_sys::fuzz_target!(|input: ClusterOpsInput| input.run());
