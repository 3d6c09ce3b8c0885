//! Deterministic tests of every behaviour `PROTOCOL.md` promises, through
//! router-core's public API alone: no sockets, no clock (one arbitrary origin,
//! [`router_sim::epoch`], plus explicit `Duration`s), no threads.
//!
//! One test binary with one module per theme, so that the shared in-memory
//! driver in [`support`] is compiled once and every test can use any of it.

mod support;

mod accept;
mod backpressure;
mod drive;
mod ids;
mod lifecycle;
mod memory;
mod routing;
mod stats;
mod timeouts;
