//! `Router::drive` reads every write's result the same way for every driver:
//! an interrupted write is retried, a write that takes nothing or fails
//! resets the connection, a connection the driver has no socket for is reset,
//! and `WouldBlock` holds the bytes until the socket is writable.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::time::Instant;

use router_core::{CloseCause, Config, ConnHandle, Io, Router};

use crate::support::frame;

/// An `Io` whose writes return what the test scripts, one result per write,
/// and take everything once the script is used up.
#[derive(Default)]
struct ScriptedIo {
    results: VecDeque<io::Result<usize>>,
    written: Vec<u8>,
    writes: usize,
    closed: Vec<ConnHandle>,
}

impl Io for ScriptedIo {
    fn write(&mut self, _conn: ConnHandle, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        self.writes += 1;
        let offered: Vec<u8> = slices.iter().flat_map(|s| s.iter().copied()).collect();
        let result = self.results.pop_front().unwrap_or(Ok(offered.len()));
        if let Ok(n) = result {
            self.written.extend_from_slice(&offered[..n]);
        }
        result
    }
    fn close(&mut self, conn: ConnHandle) {
        self.closed.push(conn);
    }
    fn resume_reading(&mut self, _conn: ConnHandle) {}
    fn stop_listening(&mut self) {}
}

/// A router with one client whose ID is queued, driven at the returned
/// instant with `results`.
fn one_client(
    results: impl IntoIterator<Item = io::Result<usize>>,
) -> (Router, ConnHandle, ScriptedIo, Instant) {
    let now = router_sim::epoch();
    let mut router = Router::new(Config::default()).unwrap();
    let conn = router.handle_accept(now).unwrap();
    let mut io = ScriptedIo {
        results: results.into_iter().collect(),
        ..ScriptedIo::default()
    };
    router.drive(now, &mut io);
    (router, conn, io, now)
}

#[test]
fn an_interrupted_write_is_retried_at_once() {
    let (router, conn, io, _) = one_client([Err(io::ErrorKind::Interrupted.into())]);
    assert_eq!(io.writes, 2);
    assert_eq!(io.written, conn.id().to_be_bytes());
    assert_eq!(router.connection_info(conn).unwrap().queued_bytes, 0);
}

#[test]
fn a_write_that_takes_nothing_resets_the_connection() {
    let (router, conn, io, _) = one_client([Ok(0)]);
    assert_eq!(io.closed, [conn]);
    assert_eq!(router.stats().closed(CloseCause::Reset), 1);
}

#[test]
fn a_connection_without_a_socket_is_reset_not_a_panic() {
    let (router, conn, io, _) = one_client([Err(io::ErrorKind::NotConnected.into())]);
    assert_eq!(io.closed, [conn]);
    assert_eq!(router.stats().closed(CloseCause::Reset), 1);
}

#[test]
fn a_failed_write_resets_the_connection() {
    let (router, conn, io, _) = one_client([Err(io::ErrorKind::BrokenPipe.into())]);
    assert_eq!(io.closed, [conn]);
    assert_eq!(router.stats().closed(CloseCause::Reset), 1);
}

#[test]
fn would_block_holds_the_bytes_until_writable() {
    let (mut router, conn, mut io, now) = one_client([Err(io::ErrorKind::WouldBlock.into())]);
    assert_eq!(io.writes, 1);
    assert!(io.closed.is_empty());
    // A frame to it is queued, but nothing is written while it blocks.
    router.handle_input(conn, &frame(conn, b"self"), now);
    router.drive(now, &mut io);
    assert_eq!(io.writes, 1, "no write offered while it would block");
    router.handle_writable(conn);
    router.drive(now, &mut io);
    let mut expected = conn.id().to_be_bytes().to_vec();
    expected.extend_from_slice(b"self\0");
    assert_eq!(io.written, expected);
}

#[test]
fn drive_handles_a_due_timeout_and_returns_the_next() {
    let (mut router, conn, mut io, start) = one_client([Err(io::ErrorKind::WouldBlock.into())]);
    let stall = router.config().write_stall_timeout;
    assert_eq!(router.drive(start, &mut io), Some(start + stall));
    assert_eq!(
        router.drive(start + stall, &mut io),
        None,
        "nothing left to wait for"
    );
    assert_eq!(io.closed, [conn]);
    assert_eq!(router.stats().closed(CloseCause::WriteStall), 1);
}
