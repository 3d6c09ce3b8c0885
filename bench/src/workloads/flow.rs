//! Windowed one-way streams, shared by `pairs`, `fanin` and `slow`: senders keep at
//! most `window` messages in flight to their receiver, receivers verify everything.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::time::timeout_at;

use super::Timing;
use crate::backends::{Receiver, Sender};
use crate::error::BenchError;
use crate::payload::{Header, Pattern};
use crate::stats::Tally;

/// Largest batch one flush sends, in bytes: large enough to amortise the system call,
/// small enough not to hog the runtime.
const BATCH_BYTES: usize = 64 * 1024;

/// Counters shared by one sender and its receiver.
#[derive(Debug)]
pub(super) struct Flow {
    /// Messages the receiver has taken from this sender.
    received: AtomicU64,
    /// Messages sent, published when the sender stops; `u64::MAX` while it runs.
    sent_total: AtomicU64,
    /// Receiver to sender: the window has room again.
    room: Notify,
    /// Sender to receiver: the sender stopped.
    stopped: Arc<Notify>,
}

impl Flow {
    /// A flow whose sender wakes its receiver through `stopped` when done.
    pub(super) fn new(stopped: Arc<Notify>) -> Arc<Self> {
        Arc::new(Self {
            received: AtomicU64::new(0),
            sent_total: AtomicU64::new(u64::MAX),
            room: Notify::new(),
            stopped,
        })
    }

    /// Whether the sender stopped and everything it sent arrived.
    fn settled(&self) -> bool {
        let sent = self.sent_total.load(Ordering::Acquire);
        sent != u64::MAX && self.received.load(Ordering::Acquire) >= sent
    }

    /// Messages sent but not received; zero while the sender runs.
    fn missing(&self) -> u64 {
        match self.sent_total.load(Ordering::Acquire) {
            u64::MAX => 0,
            sent => sent.saturating_sub(self.received.load(Ordering::Acquire)),
        }
    }
}

/// Sends `size`-byte messages as sender `index` until the window closes, with at most
/// `window` unacknowledged by the receiver. Returns the number sent.
pub(super) async fn send(
    tx: Sender,
    flow: Arc<Flow>,
    index: u32,
    window: u64,
    pattern: Arc<Pattern>,
    timing: Timing,
) -> Result<u64, BenchError> {
    send_gated(tx, flow, index, window, pattern, timing, |_| None, None).await
}

/// How far ahead of its rate a paced sender may run: the runtime's timer
/// sleeps in whole milliseconds, so a sender that waited for every message's
/// exact turn would fall far below a rate of many messages per millisecond.
const PACE_SLACK: Duration = Duration::from_millis(2);

/// Spaces a sender's messages so that it averages at most a given rate while it
/// sends, running ahead by at most [`PACE_SLACK`]. Time spent paused earns no
/// credit: a sender resuming after a pause does not burst.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pacer {
    bytes_per_s: f64,
    /// When the next message may go.
    next: Option<Instant>,
}

impl Pacer {
    /// A pacer for `bytes_per_s`.
    pub(super) fn new(bytes_per_s: f64) -> Self {
        Self {
            bytes_per_s,
            next: None,
        }
    }

    /// When the sender may send next, if not yet at `now`.
    fn wait_until(&self, now: Instant) -> Option<Instant> {
        self.next
            .filter(|next| *next > now + PACE_SLACK)
            .map(|next| next - PACE_SLACK)
    }

    /// `bytes` went out at `now`.
    fn sent(&mut self, now: Instant, bytes: usize) {
        let from = self.next.map_or(now, |next| next.max(now));
        self.next = Some(from + Duration::from_secs_f64(bytes as f64 / self.bytes_per_s));
    }
}

/// [`send`], pausing whenever `paused_until(now)` names an instant to resume at (the
/// quiet phases of `fairness`), and no faster than `pacer` allows. Messages already
/// in flight still arrive while paused.
#[allow(clippy::too_many_arguments)]
pub(super) async fn send_gated(
    mut tx: Sender,
    flow: Arc<Flow>,
    index: u32,
    window: u64,
    pattern: Arc<Pattern>,
    timing: Timing,
    paused_until: impl Fn(Instant) -> Option<Instant>,
    mut pacer: Option<Pacer>,
) -> Result<u64, BenchError> {
    let max_batch = (BATCH_BYTES / (pattern.size() + 5)).max(1) as u64;
    let mut seq = 0u64;
    let mut scratch = Vec::with_capacity(pattern.size());
    let result = async {
        loop {
            let now = Instant::now();
            if now >= timing.measure_until {
                break;
            }
            if let Some(resume) = paused_until(now) {
                tokio::time::sleep_until(resume.min(timing.measure_until).into()).await;
                continue;
            }
            if let Some(next) = pacer.and_then(|pacer| pacer.wait_until(now)) {
                tokio::time::sleep_until(next.min(timing.measure_until).into()).await;
                continue;
            }
            let in_flight = seq.saturating_sub(flow.received.load(Ordering::Acquire));
            if in_flight >= window {
                // Bounded, in case the server stops delivering altogether.
                if timeout_at(timing.measure_until.into(), flow.room.notified())
                    .await
                    .is_err()
                {
                    break;
                }
                continue;
            }
            let sent_at_ns = timing.nanos(now);
            let batch = (window - in_flight).min(max_batch);
            if let Some(pacer) = &mut pacer {
                pacer.sent(now, batch as usize * pattern.size());
            }
            for _ in 0..batch {
                scratch.clear();
                let header = Header {
                    sender: index,
                    seq,
                    sent_at_ns,
                };
                pattern.encode_into(&mut scratch, header);
                tx.queue(&scratch);
                seq += 1;
            }
            timeout_at(timing.hard_deadline.into(), tx.flush())
                .await
                .map_err(|_| BenchError::Timeout("a send blocked past the hard deadline"))??;
        }
        timeout_at(timing.hard_deadline.into(), tx.finish())
            .await
            .map_err(|_| BenchError::Timeout("the final flush blocked past the hard deadline"))?
    }
    .await;
    flow.sent_total.store(seq, Ordering::Release);
    flow.stopped.notify_one();
    result.map(|()| seq)
}

/// Verifies the payloads of senders `first_sender..first_sender + flows.len()` and
/// counts those inside the measurement window.
pub(super) struct Checker {
    pattern: Arc<Pattern>,
    timing: Timing,
    first_sender: u32,
    /// Next expected sequence number per sender.
    next_seq: Vec<u64>,
    /// Messages taken per sender since the last [`Checker::take_fresh`].
    fresh: Vec<u64>,
    /// Whether to record latency (an echoing peer does not).
    measure: bool,
    /// What has been counted so far.
    pub(super) tally: Tally,
}

impl Checker {
    /// A checker for `senders` senders numbered from `first_sender`.
    pub(super) fn new(
        pattern: Arc<Pattern>,
        timing: Timing,
        first_sender: u32,
        senders: usize,
        measure: bool,
    ) -> Self {
        Self {
            pattern,
            timing,
            first_sender,
            next_seq: vec![0; senders],
            fresh: vec![0; senders],
            measure,
            tally: Tally::new(),
        }
    }

    /// Verifies one payload received at `now`.
    pub(super) fn on_payload(&mut self, now: Instant, payload: &[u8]) {
        let header = match self.pattern.decode(payload) {
            Ok(header) => header,
            Err(fault) => return self.tally.faults.count(fault),
        };
        let Some(local) = header
            .sender
            .checked_sub(self.first_sender)
            .map(|local| local as usize)
            .filter(|&local| local < self.next_seq.len())
        else {
            self.tally.faults.misrouted += 1;
            return;
        };
        if header.seq != self.next_seq[local] {
            self.tally.faults.out_of_order += 1;
        }
        self.next_seq[local] = header.seq + 1;
        self.fresh[local] += 1;
        if self.measure && self.timing.in_window(now) {
            let latency = self.timing.nanos(now).saturating_sub(header.sent_at_ns);
            self.tally.record(payload.len(), latency);
        }
    }

    /// Messages taken from sender `local` since the last call, resetting the count.
    pub(super) fn take_fresh(&mut self, local: usize) -> u64 {
        std::mem::take(&mut self.fresh[local])
    }
}

/// Receives from the senders of `flows` (numbered from `first_sender`) until every
/// one of them stopped and everything it sent arrived, or the hard deadline.
pub(super) async fn receive(
    mut rx: Receiver,
    flows: Vec<Arc<Flow>>,
    first_sender: u32,
    stopped: Arc<Notify>,
    pattern: Arc<Pattern>,
    timing: Timing,
) -> Tally {
    let mut checker = Checker::new(pattern, timing, first_sender, flows.len(), true);
    let hard_deadline = tokio::time::sleep_until(timing.hard_deadline.into());
    tokio::pin!(hard_deadline);
    while !flows.iter().all(|flow| flow.settled()) {
        tokio::select! {
            biased;
            result = rx.recv(|now, payload| checker.on_payload(now, payload)) => {
                for (local, flow) in flows.iter().enumerate() {
                    let fresh = checker.take_fresh(local);
                    if fresh > 0 {
                        flow.received.fetch_add(fresh, Ordering::AcqRel);
                        flow.room.notify_one();
                    }
                }
                if let Err(err) = result {
                    // A sender publishes its total before it closes, so a close
                    // after everything arrived (a `direct` socket) is the normal end.
                    if !flows.iter().all(|flow| flow.settled()) {
                        eprintln!("loadgen: receiver {first_sender}: {err}");
                        checker.tally.faults.connection_errors += 1;
                    }
                    break;
                }
            }
            () = stopped.notified() => {}
            () = &mut hard_deadline => break,
        }
    }
    checker.tally.faults.lost += flows.iter().map(|flow| flow.missing()).sum::<u64>();
    checker.tally
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workloads::Phases;

    fn timing() -> Timing {
        Timing::starting_now(&Phases {
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(10),
            grace: Duration::from_secs(1),
        })
    }

    fn payload(pattern: &Pattern, sender: u32, seq: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let header = Header {
            sender,
            seq,
            sent_at_ns: 0,
        };
        pattern.encode_into(&mut out, header);
        out
    }

    /// A checker for senders 10 and 11, and the instant inside its window.
    fn checker() -> (Checker, Arc<Pattern>, Instant) {
        let pattern = Arc::new(Pattern::new(40).unwrap());
        let timing = timing();
        let checker = Checker::new(pattern.clone(), timing, 10, 2, true);
        (checker, pattern, timing.measure_from)
    }

    #[test]
    fn in_order_messages_from_each_sender_pass() {
        let (mut checker, pattern, now) = checker();
        for seq in 0..5 {
            checker.on_payload(now, &payload(&pattern, 10, seq));
            checker.on_payload(now, &payload(&pattern, 11, seq));
        }
        assert_eq!(checker.tally.faults.total(), 0);
        assert_eq!(checker.tally.messages, 10);
        assert_eq!(checker.tally.bytes, 400);
        assert_eq!((checker.take_fresh(0), checker.take_fresh(1)), (5, 5));
        assert_eq!(checker.take_fresh(0), 0, "taking resets the count");
    }

    #[test]
    fn gaps_duplicates_and_reordering_are_counted() {
        let (mut checker, pattern, now) = checker();
        for seq in [0, 2, 2, 1] {
            checker.on_payload(now, &payload(&pattern, 10, seq));
        }
        // 2 after 0 (gap), 2 after 2 (duplicate), 1 after 2 (reordered).
        assert_eq!(checker.tally.faults.out_of_order, 3);
    }

    #[test]
    fn a_sender_of_another_receiver_is_misrouted() {
        let (mut checker, pattern, now) = checker();
        checker.on_payload(now, &payload(&pattern, 9, 0));
        checker.on_payload(now, &payload(&pattern, 12, 0));
        assert_eq!(checker.tally.faults.misrouted, 2);
        assert_eq!(checker.tally.messages, 0);
    }

    #[test]
    fn only_messages_inside_the_window_are_measured() {
        let (mut checker, pattern, now) = checker();
        let warmup = now - Duration::from_millis(1);
        checker.on_payload(warmup, &payload(&pattern, 10, 0));
        checker.on_payload(now, &payload(&pattern, 10, 1));
        assert_eq!(checker.tally.messages, 1);
        assert_eq!(
            checker.take_fresh(0),
            2,
            "warm-up messages still count as received"
        );
    }

    #[test]
    fn a_cut_payload_is_malformed() {
        let (mut checker, pattern, now) = checker();
        checker.on_payload(now, &payload(&pattern, 10, 0)[..30]);
        assert_eq!(checker.tally.faults.malformed, 1);
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_pacer_spaces_messages_by_their_size() {
        let start = Instant::now();
        let mut pacer = Pacer::new(1000.0 * 1000.0); // 1 000 bytes per ms
        assert_eq!(pacer.wait_until(start), None, "the first send goes at once");
        pacer.sent(start, 2000);
        assert_eq!(
            pacer.wait_until(start),
            None,
            "2 ms ahead: within the slack"
        );
        pacer.sent(start, 3000);
        assert_eq!(pacer.wait_until(start), Some(start + 3 * MS));
        assert_eq!(pacer.wait_until(start + 3 * MS), None);
    }

    #[test]
    fn a_paused_pacer_earns_no_burst() {
        let start = Instant::now();
        let mut pacer = Pacer::new(1000.0 * 1000.0);
        pacer.sent(start, 1000);
        // Idle for a second, then a burst: it runs ahead by the slack only.
        let later = start + 1000 * MS;
        assert_eq!(pacer.wait_until(later), None);
        pacer.sent(later, 5000);
        assert_eq!(pacer.wait_until(later), Some(later + 3 * MS));
    }
}
