//! A fuzzer-chosen sequence of operations on a router with small limits, every
//! invariant checked after each (`router_sim::fuzz::router_ops`).

#![no_main]

use router_sim::fuzz::RouterOpsInput;

libfuzzer_sys::fuzz_target!(|input: RouterOpsInput| input.run());
