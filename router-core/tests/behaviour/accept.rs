//! Accepting: a failure of one connection is skipped, a failure of the
//! listener (out of file descriptors) pauses accepting for `accept_pause`,
//! and the router wakes the driver to resume.

use std::io::{self, ErrorKind};
use std::time::Duration;

use router_core::Config;

use crate::support::{Net, Told, secs};

const PAUSE: Duration = Duration::from_millis(100);
const NANO: Duration = Duration::from_nanos(1);

/// `EMFILE`, the process is out of file descriptors: 24 on Linux, macOS and
/// the BSDs. std gives it no `ErrorKind` of its own.
fn out_of_descriptors() -> io::Error {
    io::Error::from_raw_os_error(24)
}

#[test]
fn a_listener_failure_pauses_accepting_until_accept_pause_has_passed() {
    let mut net = Net::new(Config::default());
    assert!(net.router.wants_accept());
    assert_eq!(net.router.poll_timeout(), None);

    net.router
        .handle_accept_error(&out_of_descriptors(), net.now);
    assert_eq!(net.drive(), []);
    let resume_at = net.now + PAUSE;
    assert!(!net.router.wants_accept());
    assert_eq!(net.router.poll_timeout(), Some(resume_at));
    assert_eq!(net.router.stats().accept_errors, 1);
    assert_eq!(net.router.stats().accept_pauses, 1);

    // A timer that fires early changes nothing.
    net.tick(PAUSE - NANO);
    assert!(!net.router.wants_accept());
    assert_eq!(net.router.poll_timeout(), Some(resume_at));

    net.tick(NANO);
    assert!(net.router.wants_accept());
    assert_eq!(net.router.poll_timeout(), None);
    net.connect();
    assert_eq!(net.router.stats().connections_accepted, 1);
}

#[test]
fn accept_pause_is_the_configured_one() {
    let mut net = Net::new(Config {
        accept_pause: secs(2),
        ..Config::default()
    });
    net.advance(secs(7));
    net.router
        .handle_accept_error(&ErrorKind::OutOfMemory.into(), net.now);
    assert_eq!(net.router.poll_timeout(), Some(net.now + secs(2)));
    // Another failure (a driver whose accept was already under way) starts
    // the pause again from its own instant.
    net.advance(secs(1));
    net.router
        .handle_accept_error(&out_of_descriptors(), net.now);
    assert_eq!(net.router.poll_timeout(), Some(net.now + secs(2)));
    assert_eq!(net.router.stats().accept_pauses, 2);
}

#[test]
fn a_failure_of_one_connection_is_counted_and_skipped() {
    let mut net = Net::new(Config::default());
    for kind in [ErrorKind::ConnectionAborted, ErrorKind::ConnectionReset] {
        net.router.handle_accept_error(&kind.into(), net.now);
        assert_eq!(net.drive(), []);
        assert!(net.router.wants_accept(), "{kind:?} paused accepting");
    }
    assert_eq!(net.router.poll_timeout(), None);
    assert_eq!(net.router.stats().accept_errors, 2);
    assert_eq!(net.router.stats().accept_pauses, 0);
}

#[test]
fn an_empty_or_interrupted_accept_is_no_failure() {
    let mut net = Net::new(Config::default());
    let stats = net.router.stats().clone();
    for kind in [ErrorKind::WouldBlock, ErrorKind::Interrupted] {
        net.router.handle_accept_error(&kind.into(), net.now);
        assert_eq!(net.drive(), []);
    }
    assert!(net.router.wants_accept());
    assert_eq!(net.router.poll_timeout(), None);
    assert_eq!(net.router.stats(), &stats);
}

#[test]
fn open_connections_are_served_while_accepting_is_paused() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let reader = net.connect();
    let stalled = net.connect();
    net.block(stalled);
    net.send(sender, stalled, b"held");
    let stall_deadline = net.now + secs(30);
    assert_eq!(net.router.poll_timeout(), Some(stall_deadline));

    net.router
        .handle_accept_error(&out_of_descriptors(), net.now);
    // The earlier of the two deadlines.
    assert_eq!(net.router.poll_timeout(), Some(net.now + PAUSE));
    net.send(sender, reader, b"still routed");
    assert_eq!(net.take_received(reader), b"still routed\0");

    net.tick(PAUSE);
    assert!(net.router.wants_accept());
    assert_eq!(net.router.poll_timeout(), Some(stall_deadline));
}

#[test]
fn shutdown_closes_the_listener_and_refuses_what_was_accepted_before() {
    let mut net = Net::new(Config::default());
    net.router.shutdown(net.now);
    assert!(!net.router.wants_accept());
    // Accepted by a driver that has not closed its listener yet.
    assert!(net.accept().is_err());
    assert_eq!(net.router.stats().connections_refused, 1);
    assert_eq!(net.drive(), [Told::StopListening]);
    assert!(!net.is_listening());
}
