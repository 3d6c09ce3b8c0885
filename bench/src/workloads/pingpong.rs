//! `pingpong`: P pairs doing one round trip at a time; measures round trips/s and
//! round-trip latency.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Notify;
use tokio::time::timeout_at;

use super::flow::Checker;
use super::{Launch, Measured, Timing, merge_tallies, pattern};
use crate::backends::{Backend, Receiver, Sender};
use crate::error::BenchError;
use crate::payload::{Header, Pattern};
use crate::stats::Tally;

/// Shape of a `pingpong` run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PingpongShape {
    /// Number of pairs, each with one message in flight.
    pub(crate) pairs: u32,
    /// Payload bytes per message.
    pub(crate) size: usize,
}

/// Runs `pingpong`. The tally's messages are round trips; latency is round-trip time.
pub(crate) async fn run(
    backend: &Backend,
    shape: PingpongShape,
    launch: Launch,
) -> Result<Measured, BenchError> {
    let pattern = Arc::new(pattern(shape.size)?);
    let mut duplexes = Vec::with_capacity(shape.pairs as usize);
    for index in 0..shape.pairs {
        duplexes.push(backend.duplex(index).await?);
    }
    let timing = launch.go();
    let mut initiators = Vec::new();
    let mut echoers = Vec::new();
    for (index, (ping, pong)) in (0u32..).zip(duplexes) {
        let done = Arc::new(Notify::new());
        initiators.push(tokio::spawn(initiate(
            ping,
            index,
            pattern.clone(),
            timing,
            done.clone(),
        )));
        echoers.push(tokio::spawn(echo(
            pong,
            index,
            pattern.clone(),
            timing,
            done,
        )));
    }
    let mut tally = merge_tallies(initiators).await;
    let echoed = merge_tallies(echoers).await;
    tally.faults.merge(&echoed.faults);
    Ok(Measured {
        tally,
        timing,
        flood_bytes: None,
    })
}

/// Round trips of pair `index`, with their round-trip time recorded if they came
/// back inside the measurement window.
async fn initiate(
    duplex: (Sender, Receiver),
    index: u32,
    pattern: Arc<Pattern>,
    timing: Timing,
    done: Arc<Notify>,
) -> Tally {
    let size = pattern.size();
    let mut measured = Tally::new();
    let mut tally = round_trips(duplex, index, pattern, timing, done, |sent, returned| {
        if timing.in_window(returned) {
            measured.record(size, nanos_between(sent, returned));
        }
    })
    .await;
    tally.merge(&measured);
    tally
}

/// Nanoseconds from `earlier` to `later`, saturating.
pub(super) fn nanos_between(earlier: Instant, later: Instant) -> u64 {
    later.saturating_duration_since(earlier).as_nanos() as u64
}

/// Sends one message, waits for it to come back (verified), calls
/// `on_round_trip(sent, returned)`, and repeats until the window closes. Returns the
/// verification faults; recording latency is the caller's, so that a workload can
/// sort round trips (`fairness` does, by phase).
pub(super) async fn round_trips(
    (mut tx, mut rx): (Sender, Receiver),
    index: u32,
    pattern: Arc<Pattern>,
    timing: Timing,
    done: Arc<Notify>,
    mut on_round_trip: impl FnMut(Instant, Instant),
) -> Tally {
    let mut checker = Checker::new(pattern.clone(), timing, index, 1, false);
    let mut payload = Vec::with_capacity(pattern.size());
    let mut seq = 0;
    let result: Result<(), BenchError> = async {
        while Instant::now() < timing.measure_until {
            payload.clear();
            let sent = Instant::now();
            let header = Header {
                sender: index,
                seq,
                sent_at_ns: timing.nanos(sent),
            };
            pattern.encode_into(&mut payload, header);
            tx.queue(&payload);
            seq += 1;
            deadline(timing, tx.flush()).await?;
            let mut returned = sent;
            while checker.take_fresh(0) == 0 {
                deadline(
                    timing,
                    rx.recv(|now, payload| {
                        checker.on_payload(now, payload);
                        returned = now;
                    }),
                )
                .await?;
            }
            on_round_trip(sent, returned);
        }
        Ok(())
    }
    .await;
    if let Err(err) = result {
        eprintln!("loadgen: pingpong pair {index}: {err}");
        checker.tally.faults.connection_errors += 1;
    }
    done.notify_one();
    checker.tally
}

/// Returns every message it receives to its sender, verifying it on the way, until
/// the initiator is done.
pub(super) async fn echo(
    (mut tx, mut rx): (Sender, Receiver),
    index: u32,
    pattern: Arc<Pattern>,
    timing: Timing,
    done: Arc<Notify>,
) -> Tally {
    let mut checker = Checker::new(pattern, timing, index, 1, false);
    let hard_deadline = tokio::time::sleep_until(timing.hard_deadline.into());
    tokio::pin!(hard_deadline);
    loop {
        tokio::select! {
            // The initiator signals before it closes its socket: checking the signal
            // first tells a normal end from a lost connection.
            biased;
            () = done.notified() => break,
            result = rx.recv(|now, payload| {
                checker.on_payload(now, payload);
                tx.queue(payload);
            }) => {
                let sent = match result {
                    Ok(()) => deadline(timing, tx.flush()).await,
                    Err(err) => Err(err),
                };
                if let Err(err) = sent {
                    eprintln!("loadgen: pingpong echo {index}: {err}");
                    checker.tally.faults.connection_errors += 1;
                    break;
                }
            }
            () = &mut hard_deadline => break,
        }
    }
    checker.tally
}

/// Bounds `io` by the run's hard deadline.
async fn deadline<T>(
    timing: Timing,
    io: impl Future<Output = Result<T, BenchError>>,
) -> Result<T, BenchError> {
    timeout_at(timing.hard_deadline.into(), io)
        .await
        .map_err(|_| BenchError::Timeout("no reply before the hard deadline"))?
}
