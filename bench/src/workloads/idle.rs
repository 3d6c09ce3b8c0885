//! `idle`: open N receiving connections, wait until the server will deliver to every
//! one of them, measure the server's memory, hold them.

use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};

use crate::backends::{Backend, Receiver};
use crate::error::BenchError;
use crate::server::ServerProbe;

/// Shape of an `idle` run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdleShape {
    /// Connections to open.
    pub(crate) connections: u32,
    /// Connection attempts in flight at once (a listen backlog is finite).
    pub(crate) concurrency: usize,
}

/// What opening the connections cost.
#[derive(Debug)]
pub(crate) struct IdleOutcome {
    /// Connections the server accepted and registered.
    pub(crate) opened: u32,
    /// Connections that failed.
    pub(crate) failed: u32,
    /// Seconds to open all of them.
    pub(crate) open_secs: f64,
    /// Server RSS before opening, in bytes.
    pub(crate) rss_before: Option<u64>,
    /// Server RSS once all were open and settled, in bytes.
    pub(crate) rss_after: Option<u64>,
}

/// The open connections; dropping this closes them.
pub(crate) struct Held {
    _open: Vec<Receiver>,
}

/// How long the server gets after the last connection before its memory is read.
const SETTLE: Duration = Duration::from_secs(1);

/// Opens the connections and measures the server.
pub(crate) async fn run(
    backend: &Backend,
    shape: IdleShape,
    probe: Option<&ServerProbe>,
) -> Result<(IdleOutcome, Held), BenchError> {
    let rss_before = probe.and_then(|p| p.rss_bytes().ok());
    let started = Instant::now();
    let results: Vec<_> = stream::iter(0..shape.connections)
        .map(|index| backend.receiver(index))
        .buffer_unordered(shape.concurrency.max(1))
        .collect()
        .await;
    let open_secs = started.elapsed().as_secs_f64();
    let mut held = Vec::with_capacity(results.len());
    let mut failed = 0;
    for result in results {
        match result {
            Ok((_, receiver)) => held.push(receiver),
            Err(err) => {
                if failed == 0 {
                    eprintln!("loadgen: idle connection failed: {err}");
                }
                failed += 1;
            }
        }
    }
    tokio::time::sleep(SETTLE).await;
    let outcome = IdleOutcome {
        opened: held.len() as u32,
        failed,
        open_secs,
        rss_before,
        rss_after: probe.and_then(|p| p.rss_bytes().ok()),
    };
    Ok((outcome, Held { _open: held }))
}
