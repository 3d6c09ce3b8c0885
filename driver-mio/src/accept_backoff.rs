//! What the loop does when `accept` fails: pause accepting for a moment.
//!
//! A listener whose `accept` fails with `EMFILE` or `ENFILE` stays readable,
//! so retrying at once would spin the loop at full speed without making
//! progress, and logging each failure would flood the log. Instead accepting
//! pauses briefly (connections wait in the kernel's backlog meanwhile), the
//! connections already open keep being served, and one warning is logged per
//! interval however many accepts fail.

use std::io;
use std::time::{Duration, Instant};

use tracing::warn;

/// How long accepting pauses after a failure: long enough not to spin, short
/// enough that clients in the backlog barely notice once descriptors free up.
const PAUSE: Duration = Duration::from_millis(100);

/// At most one warning per this interval.
const WARNING_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub(crate) struct AcceptBackoff {
    resume_at: Option<Instant>,
    last_warning: Option<Instant>,
    failures_unreported: u64,
}

impl AcceptBackoff {
    /// `accept` failed with `error`: pause accepting, and warn unless a
    /// warning went out recently.
    pub(crate) fn pause(&mut self, error: &io::Error, now: Instant) {
        self.resume_at = Some(now + PAUSE);
        self.failures_unreported += 1;
        if self
            .last_warning
            .is_some_and(|at| now.duration_since(at) < WARNING_INTERVAL)
        {
            return;
        }
        let hint = match error.raw_os_error() {
            Some(libc::EMFILE | libc::ENFILE) => {
                "out of file descriptors: raise the limit (ulimit -n) or lower max_connections"
            }
            _ => "",
        };
        warn!(
            %error,
            failures = self.failures_unreported,
            pause_ms = PAUSE.as_millis() as u64,
            "accept failed; pausing accepts {hint}"
        );
        self.last_warning = Some(now);
        self.failures_unreported = 0;
    }

    /// When accepting may resume, if it is paused at `now`.
    pub(crate) fn paused_until(&self, now: Instant) -> Option<Instant> {
        self.resume_at.filter(|&at| at > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_for_a_while_then_resumes() {
        let mut backoff = AcceptBackoff::default();
        let start = Instant::now();
        assert_eq!(backoff.paused_until(start), None);
        backoff.pause(&io::Error::from_raw_os_error(libc::EMFILE), start);
        assert_eq!(backoff.paused_until(start), Some(start + PAUSE));
        assert_eq!(backoff.paused_until(start + PAUSE), None);
    }

    #[test]
    fn warns_once_per_interval_and_counts_the_rest() {
        let mut backoff = AcceptBackoff::default();
        let start = Instant::now();
        let error = io::Error::from_raw_os_error(libc::ENFILE);
        backoff.pause(&error, start);
        backoff.pause(&error, start + PAUSE);
        backoff.pause(&error, start + 2 * PAUSE);
        assert_eq!(backoff.last_warning, Some(start));
        assert_eq!(backoff.failures_unreported, 2);
        backoff.pause(&error, start + WARNING_INTERVAL);
        assert_eq!(backoff.last_warning, Some(start + WARNING_INTERVAL));
        assert_eq!(backoff.failures_unreported, 0);
    }
}
