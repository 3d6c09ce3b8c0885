//! The invariants the simulated router is held to after every step, and the
//! accounting it must close at the end.

use router_core::{CloseCause, OverflowPolicy, Stats};

use super::Sim;

impl Sim {
    /// No connection was closed as a slow consumer or as idle before its time:
    /// each such close must match a client whose clock had run out.
    pub(super) fn check_closes_were_due(&self, before: &Stats, open_before: &[bool]) {
        let config = self.router.config();
        let stats = self.router.stats();
        let closed_now = || {
            self.clients
                .iter()
                .zip(open_before.iter().chain(std::iter::repeat(&true)))
                .filter(|(c, was_open)| c.closed && **was_open)
                .map(|(c, _)| c)
        };
        let stall_due = closed_now()
            .filter(|c| {
                c.stalled_since
                    .is_some_and(|since| since + config.write_stall_timeout <= self.now)
            })
            .count() as u64;
        let stall_closes =
            stats.closed(CloseCause::WriteStall) - before.closed(CloseCause::WriteStall);
        assert!(
            stall_closes <= stall_due,
            "{stall_closes} closed for write stall, {stall_due} due"
        );
        if let Some(idle) = config.idle_timeout {
            let idle_due = closed_now()
                .filter(|c| c.last_activity + idle <= self.now)
                .count() as u64;
            let idle_closes = stats.closed(CloseCause::Idle) - before.closed(CloseCause::Idle);
            assert!(
                idle_closes <= idle_due,
                "{idle_closes} closed as idle, {idle_due} due"
            );
        }
    }

    /// Checks that no client outlived its write-stall or idle deadline: the
    /// router must have closed it by now.
    pub(super) fn check_deadlines(&mut self) {
        let config = self.router.config().clone();
        for c in self.clients.iter_mut().filter(|c| !c.closed) {
            let info = self.router.connection_info(c.conn).expect("live");
            if info.queued_bytes == 0 {
                c.stalled_since = None;
            } else {
                c.last_activity = self.now;
                let since = *c.stalled_since.get_or_insert(self.now);
                assert!(
                    self.now < since + config.write_stall_timeout,
                    "{} accepted nothing for write_stall_timeout but is still open",
                    c.conn
                );
            }
            if let Some(idle) = config.idle_timeout {
                let idle_now = info.queued_bytes == 0 && !info.paused && !info.closing;
                assert!(
                    !idle_now || self.now < c.last_activity + idle,
                    "{} idle for idle_timeout but still open: {info:?}, last activity {:?} ago, next timeout in {:?}",
                    c.conn,
                    self.now - c.last_activity,
                    self.router
                        .poll_timeout()
                        .map(|t| t.saturating_duration_since(self.now))
                );
            }
        }
    }

    pub(super) fn check_invariants(&mut self) {
        self.check_deadlines();
        let config = self.router.config();
        let stats = self.router.stats();
        let queue_bound = config.outbound_high_water + config.max_frame_bytes + 1;
        let buffer_bound = config.max_frame_bytes + 4 + self.max_read;
        let (mut queued, mut paused, mut live) = (0, 0, 0);
        for c in &self.clients {
            let info = self.router.connection_info(c.conn);
            if c.closed {
                assert!(info.is_none(), "{} closed but still known", c.conn);
                continue;
            }
            let info = info.unwrap_or_else(|| panic!("{} live but unknown to the router", c.conn));
            live += 1;
            queued += info.queued_bytes;
            paused += u64::from(info.paused);
            assert!(
                info.queued_bytes <= queue_bound,
                "{} has {} bytes queued, over {queue_bound}",
                c.conn,
                info.queued_bytes
            );
            assert!(
                info.buffered_bytes <= buffer_bound,
                "{} has {} bytes buffered, over {buffer_bound}",
                c.conn,
                info.buffered_bytes
            );
            assert!(
                info.heap_bytes <= 2 * (queue_bound + buffer_bound) + 4096,
                "{} holds {} heap bytes",
                c.conn,
                info.heap_bytes
            );
        }
        assert_eq!(stats.connections_open, live, "connections_open");
        assert_eq!(stats.bytes_queued, queued as u64, "bytes_queued");
        assert_eq!(stats.senders_paused, paused, "senders_paused");
        let accounted = self.oracle.delivered_frames() + stats.dropped_whole().frames;
        assert!(
            stats.received.frames >= accounted,
            "{} frames received but {accounted} delivered or dropped",
            stats.received.frames
        );
        if queued > 0 {
            let deadline = self
                .router
                .poll_timeout()
                .expect("bytes queued but no write-stall timer");
            assert!(
                deadline <= self.now + config.write_stall_timeout,
                "write-stall timer too late"
            );
        }
    }

    pub(super) fn check_nothing_pending(&self) {
        for c in self.live_clients() {
            let info = self.router.connection_info(c.conn).expect("live");
            assert_eq!(
                info.queued_bytes, 0,
                "{} still has bytes queued after settling",
                c.conn
            );
            assert!(!info.paused, "{} still paused after settling", c.conn);
        }
    }

    /// Every whole frame the router read was delivered or counted as dropped.
    pub(super) fn check_accounting(&self) {
        let stats = self.router.stats();
        assert_eq!(
            stats.received.frames,
            self.oracle.delivered_frames() + stats.dropped_whole().frames,
            "frames received = delivered + dropped whole; stats: {stats:?}"
        );
    }

    /// Between clients that are still connected, nothing was lost, except what
    /// the drop policy dropped (and counted). Senders of garbage are left out:
    /// their raw bytes may legitimately swallow the frames that follow.
    pub(super) fn check_live_pairs_complete(&self) {
        let live = || self.live_clients().filter(|c| !c.eof);
        let senders: Vec<u32> = live()
            .filter(|c| !c.sent_garbage)
            .map(|c| c.conn.id())
            .collect();
        let receivers: Vec<u32> = live().map(|c| c.conn.id()).collect();
        let missing: u64 = senders
            .iter()
            .flat_map(|&from| receivers.iter().map(move |&to| (from, to)))
            .map(|(from, to)| self.oracle.missing(from, to))
            .sum();
        let allowed = match self.router.config().overflow_policy {
            OverflowPolicy::Pause => 0,
            OverflowPolicy::Drop => {
                self.router
                    .stats()
                    .dropped(router_core::DropCause::DestinationFull)
                    .frames
            }
        };
        assert!(
            missing <= allowed,
            "{missing} frames between live clients lost, {allowed} dropped by policy"
        );
    }
}
