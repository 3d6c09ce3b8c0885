//! `fairness`: the round-trip latency of one ping-pong pair, alone and beside a
//! flooding pair, in alternating phases of one run.
//!
//! A flooding sender streams large messages as fast as the server takes them to a
//! partner that reads them all; the ping-pong pair runs throughout. The measurement
//! window is cut into phases of equal length, quiet and flood in turn (quiet first):
//! the flood sends only in flood phases. Comparing two separate runs would compare
//! two states of the machine as well (on a shared machine they differ by more than
//! the effect); alternating within one run gives both sides the same machine.
//!
//! A round trip counts for a phase only if it was sent and returned inside that
//! phase after its settling time, so neither a flood still draining into a quiet
//! phase nor one starting up colours the other side.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::flow::{self, Flow, Pacer};
use super::pairs::report_send_error;
use super::pingpong::{echo, nanos_between, round_trips};
use super::{Launch, Timing, merge_tallies, pattern};
use crate::backends::Backend;
use crate::error::BenchError;
use crate::stats::Tally;

/// Index of the ping-pong pair: its two ends are named after indices 0 and 1 (see
/// [`Backend::duplex`]), and its pings carry sender index 0.
const PING_INDEX: u32 = 0;
/// Index of the flood's receiver and sender, distinct from both ends of the pair,
/// so that a message delivered to the wrong side is counted as misrouted.
const FLOOD_INDEX: u32 = 2;

/// Shape of a `fairness` run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FairnessShape {
    /// Payload bytes of a ping.
    pub(crate) size: usize,
    /// Payload bytes of a flood message.
    pub(crate) flood_size: usize,
    /// Most flood messages in flight.
    pub(crate) flood_window: u64,
    /// The flood's cap in bytes per second, if any.
    pub(crate) flood_rate: Option<f64>,
    /// Length of each phase.
    pub(crate) phase: Duration,
    /// Start of each phase left out of the measurement.
    pub(crate) settle: Duration,
}

/// What a `fairness` run measured.
#[derive(Debug)]
pub(crate) struct FairnessMeasured {
    /// Round trips of quiet phases.
    pub(crate) quiet: Tally,
    /// Round trips of flood phases.
    pub(crate) flood: Tally,
    /// Flood messages received inside the window, over all phases.
    pub(crate) flood_received: Tally,
    /// Faults of every client.
    pub(crate) faults: crate::stats::Faults,
    /// Phases in the window.
    pub(crate) phases: u32,
    /// The timing the run used.
    pub(crate) timing: Timing,
}

/// Which phase an instant falls in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Alternation {
    /// Start of the first phase (the end of the warm-up).
    from: Instant,
    /// End of the last phase.
    until: Instant,
    phase: Duration,
    settle: Duration,
}

/// The kind of a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The flood is paused.
    Quiet,
    /// The flood sends.
    Flood,
}

impl Alternation {
    /// Phases of `phase` each over the measurement window of `timing`.
    pub(crate) fn new(timing: Timing, phase: Duration, settle: Duration) -> Self {
        Self {
            from: timing.measure_from,
            until: timing.measure_until,
            phase,
            settle,
        }
    }

    /// The number of phase `at` falls in, and how far into it; `None` outside the
    /// window.
    fn locate(&self, at: Instant) -> Option<(u128, Duration)> {
        if at < self.from || at >= self.until {
            return None;
        }
        let (since, phase) = ((at - self.from).as_nanos(), self.phase.as_nanos());
        let into = Duration::from_nanos((since % phase) as u64);
        Some((since / phase, into))
    }

    /// Whether the flood sends at `at`: during the warm-up (which warms both sides)
    /// and in odd-numbered phases.
    fn flooding(&self, at: Instant) -> bool {
        match self.locate(at) {
            Some((number, _)) => number % 2 == 1,
            None => at < self.from,
        }
    }

    /// When a flood sender paused at `at` resumes, or `None` if it may send.
    pub(crate) fn paused_until(&self, at: Instant) -> Option<Instant> {
        if self.flooding(at) {
            return None;
        }
        let (_, into) = self.locate(at)?;
        Some(at + (self.phase - into))
    }

    /// The phase a round trip counts for: both ends in one phase, past its settling.
    pub(crate) fn classify(&self, sent: Instant, returned: Instant) -> Option<Phase> {
        let (number, into) = self.locate(sent)?;
        let (returned_in, _) = self.locate(returned)?;
        if returned_in != number || into < self.settle {
            return None;
        }
        Some(if number % 2 == 1 {
            Phase::Flood
        } else {
            Phase::Quiet
        })
    }

    /// Phases in the window, the last one possibly cut short.
    fn count(&self) -> u32 {
        let window = (self.until - self.from).as_nanos();
        window.div_ceil(self.phase.as_nanos()) as u32
    }
}

/// Runs `fairness`.
pub(crate) async fn run(
    backend: &Backend,
    shape: FairnessShape,
    launch: Launch,
) -> Result<FairnessMeasured, BenchError> {
    if shape.phase.is_zero() || shape.settle >= shape.phase {
        return Err(BenchError::Usage(
            "--phase must be positive and longer than --settle".into(),
        ));
    }
    let ping_pattern = Arc::new(pattern(shape.size)?);
    let flood_pattern = Arc::new(pattern(shape.flood_size)?);
    let (ping, pong) = backend.duplex(PING_INDEX).await?;
    let (flood_tx, flood_rx) = backend.link(FLOOD_INDEX).await?;
    let timing = launch.go();
    let phases = Alternation::new(timing, shape.phase, shape.settle);

    let done = Arc::new(Notify::new());
    let echoer = tokio::spawn(echo(
        pong,
        PING_INDEX,
        ping_pattern.clone(),
        timing,
        done.clone(),
    ));
    let stopped = Arc::new(Notify::new());
    let flow = Flow::new(stopped.clone());
    let flood_receiver = tokio::spawn(flow::receive(
        flood_rx,
        vec![flow.clone()],
        FLOOD_INDEX,
        stopped,
        flood_pattern.clone(),
        timing,
    ));
    let flooder = tokio::spawn(flow::send_gated(
        flood_tx,
        flow,
        FLOOD_INDEX,
        shape.flood_window,
        flood_pattern,
        timing,
        move |now| phases.paused_until(now),
        shape.flood_rate.map(Pacer::new),
    ));
    let initiator = tokio::spawn(async move {
        let size = ping_pattern.size();
        let (mut quiet, mut flood) = (Tally::new(), Tally::new());
        let faults = round_trips(
            ping,
            PING_INDEX,
            ping_pattern,
            timing,
            done,
            |sent, returned| {
                let tally = match phases.classify(sent, returned) {
                    Some(Phase::Quiet) => &mut quiet,
                    Some(Phase::Flood) => &mut flood,
                    None => return,
                };
                tally.record(size, nanos_between(sent, returned));
            },
        )
        .await;
        (faults, quiet, flood)
    });

    let (mut faults, quiet, flood) = initiator.await.unwrap_or_else(|err| {
        eprintln!("loadgen: the ping-pong initiator failed: {err}");
        let mut failed = Tally::new();
        failed.faults.connection_errors += 1;
        (failed, Tally::new(), Tally::new())
    });
    let flood_sent = match flooder.await {
        Ok(sending) => report_send_error(async { sending }).await,
        Err(err) => {
            eprintln!("loadgen: the flood sender task failed: {err}");
            false
        }
    };
    if !flood_sent {
        faults.faults.connection_errors += 1;
    }
    let echoed = merge_tallies(vec![echoer]).await;
    faults.faults.merge(&echoed.faults);
    let mut flood_received = merge_tallies(vec![flood_receiver]).await;
    faults.faults.merge(&flood_received.faults);
    flood_received.faults = Default::default();
    Ok(FairnessMeasured {
        quiet,
        flood,
        flood_received,
        faults: faults.faults,
        phases: phases.count(),
        timing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workloads::Phases;

    const MS: Duration = Duration::from_millis(1);

    /// 1 s of warm-up, then ten phases of 100 ms settling for 20 ms.
    fn alternation() -> (Alternation, Instant) {
        let timing = Timing::starting_now(&Phases {
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(1),
            grace: Duration::from_secs(1),
        });
        let from = timing.measure_from;
        (Alternation::new(timing, 100 * MS, 20 * MS), from)
    }

    #[test]
    fn phases_alternate_quiet_first_and_the_warm_up_floods() {
        let (phases, from) = alternation();
        assert!(phases.flooding(from - MS), "the warm-up floods");
        assert!(!phases.flooding(from), "the first phase is quiet");
        assert!(phases.flooding(from + 100 * MS));
        assert!(!phases.flooding(from + 250 * MS));
        assert!(
            !phases.flooding(from + 2000 * MS),
            "nothing after the window"
        );
        assert_eq!(phases.count(), 10);
    }

    #[test]
    fn a_paused_flood_resumes_at_the_next_phase() {
        let (phases, from) = alternation();
        assert_eq!(phases.paused_until(from + 30 * MS), Some(from + 100 * MS));
        assert_eq!(phases.paused_until(from + 130 * MS), None);
        assert_eq!(
            phases.paused_until(from + 1100 * MS),
            None,
            "the window is over"
        );
    }

    #[test]
    fn round_trips_count_only_inside_one_settled_phase() {
        let (phases, from) = alternation();
        let at = |ms: u32| from + ms * MS;
        assert_eq!(phases.classify(at(30), at(31)), Some(Phase::Quiet));
        assert_eq!(phases.classify(at(130), at(131)), Some(Phase::Flood));
        assert_eq!(phases.classify(at(10), at(11)), None, "still settling");
        assert_eq!(
            phases.classify(at(99), at(101)),
            None,
            "straddles two phases"
        );
        assert_eq!(
            phases.classify(from - MS, at(30)),
            None,
            "sent in the warm-up"
        );
        assert_eq!(
            phases.classify(at(999), at(1001)),
            None,
            "returned after the window"
        );
    }
}
