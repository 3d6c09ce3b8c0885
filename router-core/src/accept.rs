//! What the router makes of a failed `accept`: skip it, or pause accepting.
//!
//! A listener whose `accept` fails for want of a resource (`EMFILE`, the
//! process is out of file descriptors; `ENFILE`, `ENOBUFS`, `ENOMEM`) stays
//! readable, so a driver that retried at once would spin at full speed
//! without making progress, and one that logged every failure would flood
//! its log. Instead accepting pauses for [`Config::accept_pause`] (clients
//! wait in the kernel's backlog meanwhile, and the connections already open
//! keep being served), and one warning goes out per
//! [`LOG_INTERVAL`](crate::log_limit::LOG_INTERVAL), however many accepts fail.
//!
//! std has no [`io::ErrorKind`] for `EMFILE` or `ENFILE`, so rather than list
//! the resource errors by number, every failure not known to concern one
//! connection only pauses: any such failure would recur at once too.
//!
//! [`Config::accept_pause`]: crate::Config::accept_pause

use std::io;
use std::time::{Duration, Instant};

use tracing::warn;

use crate::log_limit::LogLimit;

/// What a failed `accept` means for the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AcceptFailure {
    /// Not a failure: the listener is empty (`WouldBlock`), or a signal cut
    /// the call short (`Interrupted`).
    None,
    /// One connection failed before it was accepted (its client gave up, or
    /// its network went away): the next may be accepted at once.
    OneConnection,
    /// The listener itself failed: the next accept would fail the same way.
    Listener,
}

impl AcceptFailure {
    pub(crate) fn of(error: &io::Error) -> AcceptFailure {
        use io::ErrorKind::*;
        match error.kind() {
            WouldBlock | Interrupted => AcceptFailure::None,
            // The last three are the errors Linux's accept(2) passes on from
            // a pending connection, to be retried like `EAGAIN`.
            ConnectionAborted | ConnectionReset | NetworkDown | NetworkUnreachable
            | HostUnreachable => AcceptFailure::OneConnection,
            _ => AcceptFailure::Listener,
        }
    }
}

/// The pause after a listener failure, and the warnings' rate limit.
#[derive(Debug, Default)]
pub(crate) struct AcceptBackoff {
    /// When accepting resumes; `None` while it is not paused.
    paused_until: Option<Instant>,
    warnings: LogLimit,
}

impl AcceptBackoff {
    /// The listener failed with `error` at `now`: pauses accepting until
    /// `now + pause`, and warns unless a warning went out recently.
    pub(crate) fn pause(&mut self, error: &io::Error, pause: Duration, now: Instant) {
        self.paused_until = Some(now + pause);
        let Some(suppressed) = self.warnings.allow(now) else {
            return;
        };
        let hint = if out_of_descriptors(error) {
            ": out of file descriptors, raise the limit (ulimit -n) or lower max_connections"
        } else {
            ""
        };
        warn!(
            %error,
            failures = suppressed + 1,
            pause_ms = pause.as_millis() as u64,
            "accept failed; pausing accepts{hint}"
        );
    }

    /// When accepting resumes, while it is paused.
    pub(crate) fn paused_until(&self) -> Option<Instant> {
        self.paused_until
    }

    /// Ends the pause if it is over at `now`.
    pub(crate) fn resume_if_due(&mut self, now: Instant) {
        if self.paused_until.is_some_and(|at| at <= now) {
            self.paused_until = None;
        }
    }
}

/// `EMFILE` or `ENFILE`: out of file descriptors, in the process or the whole
/// system. Their numbers, 24 and 23, are the same on Linux, macOS and the
/// BSDs (they date from V7 Unix), which spares the core a libc dependency for
/// the sake of a log hint.
fn out_of_descriptors(error: &io::Error) -> bool {
    cfg!(unix) && matches!(error.raw_os_error(), Some(23 | 24))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAUSE: Duration = Duration::from_millis(100);

    #[test]
    fn classifies_by_kind() {
        let of = |kind: io::ErrorKind| AcceptFailure::of(&kind.into());
        assert_eq!(of(io::ErrorKind::WouldBlock), AcceptFailure::None);
        assert_eq!(of(io::ErrorKind::Interrupted), AcceptFailure::None);
        assert_eq!(
            of(io::ErrorKind::ConnectionAborted),
            AcceptFailure::OneConnection
        );
        assert_eq!(
            of(io::ErrorKind::ConnectionReset),
            AcceptFailure::OneConnection
        );
        assert_eq!(of(io::ErrorKind::OutOfMemory), AcceptFailure::Listener);
        assert_eq!(of(io::ErrorKind::Other), AcceptFailure::Listener);
        let emfile = io::Error::from_raw_os_error(24);
        assert_eq!(AcceptFailure::of(&emfile), AcceptFailure::Listener);
        assert_eq!(out_of_descriptors(&emfile), cfg!(unix));
        assert!(!out_of_descriptors(&io::ErrorKind::Other.into()));
    }

    #[test]
    fn each_failure_pauses_until_its_own_pause_ends() {
        let start = router_sim::epoch();
        let mut backoff = AcceptBackoff::default();
        let error = io::Error::from_raw_os_error(23);
        backoff.pause(&error, PAUSE, start);
        assert_eq!(backoff.paused_until(), Some(start + PAUSE));
        backoff.pause(&error, PAUSE, start + 2 * PAUSE);
        assert_eq!(backoff.paused_until(), Some(start + 3 * PAUSE));
        backoff.resume_if_due(start + 3 * PAUSE);
        assert_eq!(backoff.paused_until(), None);
    }
}
