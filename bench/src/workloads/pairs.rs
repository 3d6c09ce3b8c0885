//! `pairs`: P independent sender → receiver streams, each with a bounded window.

use std::sync::Arc;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::flow::{self, Flow};
use super::{Launch, Measured, Timing, merge_tallies, pattern};
use crate::backends::{Backend, Receiver, Sender};
use crate::error::BenchError;
use crate::stats::Tally;

/// Shape of a `pairs` run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PairsShape {
    /// Number of sender → receiver pairs.
    pub(crate) pairs: u32,
    /// Payload bytes per message.
    pub(crate) size: usize,
    /// Most messages in flight per sender.
    pub(crate) window: u64,
}

/// Connects the pairs: sender `i` sends to receiver `i`.
pub(super) async fn connect(
    backend: &Backend,
    pairs: u32,
) -> Result<Vec<(Sender, Receiver)>, BenchError> {
    let mut links = Vec::with_capacity(pairs as usize);
    for index in 0..pairs {
        links.push(backend.link(index).await?);
    }
    Ok(links)
}

/// The tasks of running streams.
pub(super) struct Running {
    /// Receiver tasks, each returning its tally.
    pub(super) receivers: Vec<JoinHandle<Tally>>,
    /// Sender tasks, each returning whether it ended cleanly.
    pub(super) senders: Vec<JoinHandle<bool>>,
}

/// Starts the streams of already connected pairs on `timing`.
pub(super) fn start(
    links: Vec<(Sender, Receiver)>,
    shape: PairsShape,
    timing: Timing,
) -> Result<Running, BenchError> {
    let pattern = Arc::new(pattern(shape.size)?);
    let mut receivers = Vec::new();
    let mut senders = Vec::new();
    for (index, (tx, rx)) in (0u32..).zip(links) {
        let stopped = Arc::new(Notify::new());
        let flow = Flow::new(stopped.clone());
        receivers.push(tokio::spawn(flow::receive(
            rx,
            vec![flow.clone()],
            index,
            stopped,
            pattern.clone(),
            timing,
        )));
        let sending = flow::send(tx, flow, index, shape.window, pattern.clone(), timing);
        senders.push(tokio::spawn(report_send_error(sending)));
    }
    Ok(Running { receivers, senders })
}

/// Runs `pairs`.
pub(crate) async fn run(
    backend: &Backend,
    shape: PairsShape,
    launch: Launch,
) -> Result<Measured, BenchError> {
    let links = connect(backend, shape.pairs).await?;
    let timing = launch.go();
    let running = start(links, shape, timing)?;
    finish(running, timing, None).await
}

/// Collects the tasks of a run into its measurement.
pub(super) async fn finish(
    Running { receivers, senders }: Running,
    timing: Timing,
    flood_bytes: Option<u64>,
) -> Result<Measured, BenchError> {
    let mut failed_senders = 0;
    for sender in senders {
        if !sender.await.unwrap_or(false) {
            failed_senders += 1;
        }
    }
    let mut tally = merge_tallies(receivers).await;
    tally.faults.connection_errors += failed_senders;
    Ok(Measured {
        tally,
        timing,
        flood_bytes,
    })
}

/// Logs a sender's error; returns whether it ended cleanly.
pub(super) async fn report_send_error(
    sending: impl Future<Output = Result<u64, BenchError>>,
) -> bool {
    match sending.await {
        Ok(_) => true,
        Err(err) => {
            eprintln!("loadgen: sender failed: {err}");
            false
        }
    }
}
