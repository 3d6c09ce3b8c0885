//! The task hands a failed `accept` to the router, which decides: it pauses
//! accepting after a listener failure and names the resumption as the task's
//! next wake-up, and skips a client that gave up.

use std::io::{self, ErrorKind, IoSlice};
use std::task::{Context, Poll};
use std::time::Instant;

use driver_async::{RouterTask, Socket, Wakeup};
use router_core::Config;

/// The socket type of a task that never accepts a connection.
struct NoSocket;

impl Socket for NoSocket {
    fn poll_read(&mut self, _: &mut Context<'_>, _: &mut [u8]) -> Poll<io::Result<usize>> {
        unreachable!("no connection is accepted")
    }
    fn poll_write_ready(&self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        unreachable!("no connection is accepted")
    }
    fn try_write_vectored(&self, _: &[IoSlice<'_>]) -> io::Result<usize> {
        unreachable!("no connection is accepted")
    }
}

#[test]
fn a_listener_failure_pauses_accepting_until_the_timer() {
    let mut task = RouterTask::<NoSocket>::new(Config::default()).unwrap();
    // An arbitrary origin; the test moves time itself from here.
    let start = Instant::now();
    // EMFILE (24 on Linux, macOS and the BSDs): out of file descriptors.
    let out_of_descriptors = io::Error::from_raw_os_error(24);
    task.handle(Wakeup::Accepted(Err(out_of_descriptors)), start);
    assert!(!task.is_accepting());
    let resume_at = start + Config::default().accept_pause;
    assert_eq!(task.next_wakeup(), Some(resume_at));

    task.handle(Wakeup::Timer, resume_at);
    assert!(task.is_accepting());
    assert_eq!(task.next_wakeup(), None);

    let gave_up = io::Error::from(ErrorKind::ConnectionAborted);
    task.handle(Wakeup::Accepted(Err(gave_up)), resume_at);
    assert!(task.is_accepting());
    let stats = task.into_stats();
    assert_eq!((stats.accept_errors, stats.accept_pauses), (2, 1));
}
