//! `fanin`: many senders, one receiver, each sender with its own window.

use std::sync::Arc;

use tokio::sync::Notify;

use super::flow::{self, Flow};
use super::pairs::{Running, finish, report_send_error};
use super::{Launch, Measured, pattern};
use crate::backends::Backend;
use crate::error::BenchError;

/// Shape of a `fanin` run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FaninShape {
    /// Number of senders.
    pub(crate) senders: u32,
    /// Payload bytes per message.
    pub(crate) size: usize,
    /// Most messages in flight per sender.
    pub(crate) window: u64,
}

/// Runs `fanin`.
pub(crate) async fn run(
    backend: &Backend,
    shape: FaninShape,
    launch: Launch,
) -> Result<Measured, BenchError> {
    let pattern = Arc::new(pattern(shape.size)?);
    let (addr, rx) = backend.receiver(0).await?;
    let mut txs = Vec::with_capacity(shape.senders as usize);
    for _ in 0..shape.senders {
        txs.push(backend.sender(&addr).await?);
    }
    let stopped = Arc::new(Notify::new());
    let flows: Vec<_> = txs.iter().map(|_| Flow::new(stopped.clone())).collect();
    let timing = launch.go();
    let receiver = tokio::spawn(flow::receive(
        rx,
        flows.clone(),
        0,
        stopped,
        pattern.clone(),
        timing,
    ));
    let senders = (0u32..)
        .zip(txs.into_iter().zip(flows))
        .map(|(index, (tx, flow))| {
            let sending = flow::send(tx, flow, index, shape.window, pattern.clone(), timing);
            tokio::spawn(report_send_error(sending))
        })
        .collect();
    let running = Running {
        receivers: vec![receiver],
        senders,
    };
    finish(running, timing, None).await
}
