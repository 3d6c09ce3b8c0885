//! Running out of file descriptors: `accept` fails with `EMFILE`, the router
//! pauses accepting, and the loop sleeps out the pause instead of spinning
//! or giving up, keeps serving, and admits the waiting client once a
//! descriptor frees up.
//!
//! The descriptor limit is per process, so this test has its own binary, and
//! holds the only test in it.
#![cfg(target_os = "linux")]

use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::thread;
use std::time::Duration;

use nix::sys::resource::{Resource, UsageWho, getrlimit, getrusage, setrlimit};
use nix::sys::time::TimeValLike;
use router_core::Config;
use std_loop::Server;

const PATIENCE: Duration = Duration::from_secs(10);

/// How long the test watches the loop while `accept` keeps failing.
const STARVED_FOR: Duration = Duration::from_millis(500);

/// CPU time this process has used, user and system.
fn cpu_time() -> Duration {
    let usage = getrusage(UsageWho::RUSAGE_SELF).unwrap();
    let micros = usage.user_time().num_microseconds() + usage.system_time().num_microseconds();
    Duration::from_micros(micros as u64)
}

fn read_id(client: &mut TcpStream) -> io::Result<u32> {
    let mut id = [0; 4];
    client.read_exact(&mut id)?;
    Ok(u32::from_be_bytes(id))
}

#[test]
fn accept_pauses_when_out_of_descriptors_and_recovers() {
    let server = Server::bind(SocketAddr::from(([127, 0, 0, 1], 0)), Config::default()).unwrap();
    let addr = server.local_addr();
    let shutdown = server.shutdown_handle();
    let loop_thread = thread::spawn(move || server.run());

    let mut first = TcpStream::connect(addr).unwrap();
    first.set_read_timeout(Some(PATIENCE)).unwrap();
    let first_id = read_id(&mut first).unwrap();

    // Allow exactly one more descriptor: the next client's socket takes it,
    // so the loop's `accept` of that client fails with EMFILE.
    let lowest_free = File::open("/dev/null").unwrap().as_raw_fd();
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, lowest_free as u64 + 1, hard).unwrap();
    let mut second = TcpStream::connect(addr).unwrap();
    second.set_read_timeout(Some(STARVED_FOR)).unwrap();

    let cpu_before = cpu_time();
    let starved = read_id(&mut second).unwrap_err();
    let cpu_spent = cpu_time() - cpu_before;
    assert!(
        matches!(starved.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "the second client got {starved} instead of waiting"
    );
    // A loop retrying `accept` at once would burn about STARVED_FOR of CPU.
    assert!(
        cpu_spent < STARVED_FOR / 4,
        "the loop spun while out of descriptors: {cpu_spent:?} of CPU in {STARVED_FOR:?}"
    );
    assert!(!loop_thread.is_finished(), "the loop gave up");

    // The router still serves the connection it has.
    let mut echo = first_id.to_be_bytes().to_vec();
    echo.extend_from_slice(b"still here\0");
    first.write_all(&echo).unwrap();
    let mut echoed = [0; 11];
    first.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"still here\0");

    // Closing it frees descriptors on both sides; the waiting client is
    // admitted once the pause ends.
    drop(first);
    second.set_read_timeout(Some(PATIENCE)).unwrap();
    let second_id = read_id(&mut second).unwrap();
    assert_ne!(second_id, first_id);

    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
    shutdown.shutdown();
    let stats = loop_thread.join().unwrap().unwrap();
    assert_eq!(stats.connections_accepted, 2);
    assert!(stats.accept_pauses > 0, "{stats:?}");
}
