//! Real NATS servers on loopback, and router nodes joined through them,
//! driven by the test's own thread: each node is one router core, its
//! in-memory clients, and its bridge.

#![allow(dead_code, unreachable_pub)]

pub mod nats;
pub mod node;
pub mod streams;

pub use nats::NatsServer;
pub use node::{Node, World};
