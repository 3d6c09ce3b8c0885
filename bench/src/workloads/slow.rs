//! `slow`: `pairs` plus one client that subscribes and never reads, flooded by one
//! extra sender. Compared with a plain `pairs` run of the same shape, it shows
//! whether a stalled consumer slows everyone else down.

use std::time::Instant;

use tokio::time::timeout_at;

use super::pairs::{self, PairsShape};
use super::{Launch, Measured, Timing, pattern};
use crate::backends::{Backend, Sender};
use crate::error::BenchError;
use crate::payload::Header;

/// Shape of a `slow` run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SlowShape {
    /// The well-behaved pairs.
    pub(crate) pairs: PairsShape,
    /// Payload bytes per message of the flood.
    pub(crate) flood_size: usize,
}

/// Runs `slow`. The tally covers the well-behaved pairs only.
pub(crate) async fn run(
    backend: &Backend,
    shape: SlowShape,
    launch: Launch,
) -> Result<Measured, BenchError> {
    let links = pairs::connect(backend, shape.pairs.pairs).await?;
    // Held, unread, until the run is over.
    let (addr, _stalled) = backend.stalled().await?;
    let flooder = backend.sender(&addr).await?;
    let timing = launch.go();
    let running = pairs::start(links, shape.pairs, timing)?;
    let flood_bytes = flood(flooder, shape.flood_size, timing).await?;
    pairs::finish(running, timing, Some(flood_bytes)).await
}

/// Sends as fast as the server accepts until the window closes; returns the bytes
/// accepted. A send that blocks (back-pressure) simply ends the flood at the deadline.
async fn flood(mut tx: Sender, size: usize, timing: Timing) -> Result<u64, BenchError> {
    let pattern = pattern(size)?;
    let per_batch = (256 * 1024 / size).max(1) as u64;
    let mut payload = Vec::with_capacity(size);
    let mut accepted = 0u64;
    let mut seq = 0u64;
    while Instant::now() < timing.measure_until {
        for _ in 0..per_batch {
            payload.clear();
            let header = Header {
                sender: u32::MAX,
                seq,
                sent_at_ns: 0,
            };
            pattern.encode_into(&mut payload, header);
            tx.queue(&payload);
            seq += 1;
        }
        match timeout_at(timing.measure_until.into(), tx.flush()).await {
            Ok(Ok(())) => accepted += per_batch * size as u64,
            Ok(Err(err)) => {
                // Servers may cut a publisher off; the flood is over, the run is not.
                eprintln!("loadgen: flooder stopped: {err}");
                break;
            }
            Err(_) => break,
        }
    }
    Ok(accepted)
}
