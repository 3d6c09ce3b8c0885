//! Log floods: a client that misbehaves in a loop writes a bounded number of
//! log lines, each saying how many it stands for, while the counters count
//! every occurrence.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use router_core::{CloseCause, Config, DropCause, LOG_INTERVAL};
use tracing::Level;

use crate::support::Net;

/// Everything logged at `WARN` or above while `run` runs on this thread,
/// as the text lines a server's log would hold.
fn warnings_during(run: impl FnOnce()) -> Vec<String> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let writer = Arc::clone(&log);
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(Level::WARN)
        .with_ansi(false)
        .with_writer(move || LogWriter(Arc::clone(&writer)))
        .finish();
    tracing::subscriber::with_default(subscriber, run);
    let text = String::from_utf8(log.lock().unwrap().clone()).unwrap();
    text.lines().map(str::to_owned).collect()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

const CYCLES: u64 = 2_000;

#[test]
fn connecting_and_sending_oversized_frames_in_a_loop_logs_a_bounded_number_of_lines() {
    let max_frame_bytes = 16;
    let mut net = Net::new(Config {
        max_frame_bytes,
        ..Config::default()
    });
    let step = Duration::from_millis(1);
    let lines = warnings_during(|| {
        for _ in 0..CYCLES {
            let conn = net.connect();
            let mut oversized = conn.id().to_be_bytes().to_vec();
            oversized.extend(vec![b'x'; max_frame_bytes + 1]);
            net.input(conn, &oversized);
            assert!(net.is_closed(conn));
            net.advance(step);
        }
    });
    let elapsed = step * CYCLES as u32;
    let bound = 1 + (elapsed.as_secs_f64() / LOG_INTERVAL.as_secs_f64()).ceil() as usize;
    assert!(
        (1..=bound).contains(&lines.len()),
        "{} lines for {CYCLES} violations in {elapsed:?}: {lines:#?}",
        lines.len()
    );
    assert!(lines[0].contains("protocol violation"), "{}", lines[0]);
    let stats = net.router.stats();
    assert_eq!(stats.closed(CloseCause::ProtocolViolation), CYCLES);
    assert_eq!(stats.dropped(DropCause::Oversized).frames, CYCLES);

    // The next line, an interval later, reports what was held back.
    net.advance(LOG_INTERVAL);
    let lines = warnings_during(|| {
        let conn = net.connect();
        let mut oversized = conn.id().to_be_bytes().to_vec();
        oversized.extend(vec![b'x'; max_frame_bytes + 1]);
        net.input(conn, &oversized);
    });
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].contains(&format!("suppressed={}", CYCLES - 1)),
        "{}",
        lines[0]
    );
}

#[test]
fn many_slow_consumers_closed_at_once_log_one_line() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let slow: Vec<_> = (0..500).map(|_| net.connect()).collect();
    for &conn in &slow {
        net.block(conn);
        net.send(sender, conn, b"never read");
    }
    let lines = warnings_during(|| {
        net.tick(Config::default().write_stall_timeout);
    });
    assert!(slow.iter().all(|&conn| net.is_closed(conn)));
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains("slow consumer"), "{}", lines[0]);
    assert_eq!(net.router.stats().closed(CloseCause::WriteStall), 500);
}
