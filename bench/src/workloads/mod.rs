//! The workloads. Each sets up its clients first, then runs on a common [`Timing`]:
//! warm-up, measurement window, and a hard deadline after which everything stops.

pub(crate) mod fairness;
pub(crate) mod fanin;
mod flow;
pub(crate) mod idle;
pub(crate) mod pairs;
pub(crate) mod pingpong;
pub(crate) mod slow;

use std::time::{Duration, Instant};

use crate::error::BenchError;
use crate::payload::Pattern;
use crate::stats::Tally;

/// The phases of a run, as instants.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    /// Senders start; payload timestamps count from here.
    pub(crate) start: Instant,
    /// End of the warm-up: messages received from here on are counted.
    pub(crate) measure_from: Instant,
    /// End of the measurement window: senders stop.
    pub(crate) measure_until: Instant,
    /// Receivers give up on messages still in flight; anything missing is lost.
    pub(crate) hard_deadline: Instant,
}

impl Timing {
    /// Phases starting now.
    fn starting_now(phases: &Phases) -> Self {
        let start = Instant::now();
        let measure_from = start + phases.warmup;
        let measure_until = measure_from + phases.duration;
        Self {
            start,
            measure_from,
            measure_until,
            hard_deadline: measure_until + phases.grace,
        }
    }

    /// Nanoseconds from the start to `at`: the timestamp carried in payloads.
    pub(crate) fn nanos(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.start).as_nanos() as u64
    }

    /// Whether a message received at `at` counts.
    pub(crate) fn in_window(&self, at: Instant) -> bool {
        at >= self.measure_from && at < self.measure_until
    }

    /// Length of the measurement window in seconds.
    pub(crate) fn window_secs(&self) -> f64 {
        (self.measure_until - self.measure_from).as_secs_f64()
    }
}

/// Starts a run's clock once its connections are set up, and tells an observer
/// (the server sampler) when it did.
#[derive(Debug)]
pub(crate) struct Launch {
    phases: Phases,
    observer: Option<tokio::sync::oneshot::Sender<Timing>>,
}

impl Launch {
    /// A launch of `phases`, announced to `observer` if there is one.
    pub(crate) fn new(
        phases: Phases,
        observer: Option<tokio::sync::oneshot::Sender<Timing>>,
    ) -> Self {
        Self { phases, observer }
    }

    /// Starts the clock now.
    pub(crate) fn go(self) -> Timing {
        let timing = Timing::starting_now(&self.phases);
        if let Some(observer) = self.observer {
            // The sampler may have gone; the run does not depend on it.
            let _ = observer.send(timing);
        }
        timing
    }
}

/// Phase lengths from the command line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Phases {
    /// Sending before counting starts.
    pub(crate) warmup: Duration,
    /// The measurement window.
    pub(crate) duration: Duration,
    /// Time after the window for in-flight messages to arrive.
    pub(crate) grace: Duration,
}

/// What a message-moving workload measured.
#[derive(Debug)]
pub(crate) struct Measured {
    /// Merged counts of every receiver (round trips for pingpong).
    pub(crate) tally: Tally,
    /// The timing the run used, for rates and server sampling.
    pub(crate) timing: Timing,
    /// Bytes the slow workload's flooder got accepted, if it ran.
    pub(crate) flood_bytes: Option<u64>,
}

/// The payload pattern for `size`-byte payloads, or a usage error.
pub(crate) fn pattern(size: usize) -> Result<Pattern, BenchError> {
    Pattern::new(size).ok_or_else(|| {
        BenchError::Usage(format!(
            "--size must be at least {} bytes (the payload header)",
            crate::payload::HEADER_LEN
        ))
    })
}

/// Awaits every task, merging their tallies; a task that panicked counts as a
/// connection error rather than aborting the report.
async fn merge_tallies(tasks: Vec<tokio::task::JoinHandle<Tally>>) -> Tally {
    let mut total = Tally::new();
    for task in tasks {
        match task.await {
            Ok(tally) => total.merge(&tally),
            Err(err) => {
                eprintln!("loadgen: a receiver task failed: {err}");
                total.faults.connection_errors += 1;
            }
        }
    }
    total
}
