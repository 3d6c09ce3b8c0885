//! Running a router out of file descriptors, and watching it recover.
//!
//! Shared by the suite (every driver) and the `std-loop` example, which
//! embeds the core in a loop of its own: each must pause accepting when
//! `accept` fails with `EMFILE` (the core decides for how long), keep serving
//! the clients it has, and admit the waiting client once a descriptor frees.

use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use nix::sys::resource::{Resource, UsageWho, getrlimit, getrusage, setrlimit};
use nix::sys::time::TimeValLike;

use crate::{PATIENCE, frame};

/// How long the scenario watches the router while `accept` keeps failing.
const STARVED_FOR: Duration = Duration::from_millis(500);

/// Connects to the router at `addr`, takes the process's last free file
/// descriptor with a second client so that the router's `accept` of it fails
/// with `EMFILE`, and checks that over the next half second the router
/// neither spins (the process spends less than a quarter of it on the CPU)
/// nor stops serving the first client; then frees the first client's
/// descriptors and checks that the second is admitted. Restores the
/// descriptor limit before it returns.
///
/// The limit is per process: call it from a test binary that runs nothing
/// else at the same time, with the router in this process.
pub fn exhaust_descriptors_then_recover(addr: SocketAddr) -> io::Result<()> {
    let mut first = TcpStream::connect(addr)?;
    first.set_read_timeout(Some(PATIENCE))?;
    let first_id = read_id(&mut first)?;
    // A round trip first: `accept` takes a descriptor even when it finds no
    // connection waiting, for the moment of the call, so the router must be
    // done accepting `first` before the free descriptors are counted.
    echo(&mut first, first_id, b"ready")?;

    // Allow exactly one more descriptor: the next client's socket takes it,
    // so the router's `accept` of that client fails with EMFILE.
    let lowest_free = File::open("/dev/null")?.as_raw_fd();
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    setrlimit(Resource::RLIMIT_NOFILE, lowest_free as u64 + 1, hard)?;
    let starved = starve_then_recover(first, first_id, addr);
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard)?;
    starved
}

fn starve_then_recover(mut first: TcpStream, first_id: u32, addr: SocketAddr) -> io::Result<()> {
    let mut second = TcpStream::connect(addr)?;
    let full = File::open("/dev/null")
        .map(drop)
        .expect_err("a descriptor is still free");
    assert_eq!(full.raw_os_error(), Some(nix::libc::EMFILE), "{full}");
    second.set_read_timeout(Some(STARVED_FOR))?;

    let cpu_before = cpu_time()?;
    let starved = read_id(&mut second).expect_err("the router accepted past the descriptor limit");
    let cpu_spent = cpu_time()? - cpu_before;
    assert!(
        matches!(starved.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "the second client got {starved} instead of waiting"
    );
    // A loop retrying `accept` at once would burn about STARVED_FOR of CPU.
    assert!(
        cpu_spent < STARVED_FOR / 4,
        "the router spun while out of descriptors: {cpu_spent:?} of CPU in {STARVED_FOR:?}"
    );

    // The router still serves the connection it has.
    echo(&mut first, first_id, b"still here")?;

    // Closing it frees descriptors on both sides; the waiting client is
    // admitted once the pause ends.
    drop(first);
    second.set_read_timeout(Some(PATIENCE))?;
    let second_id = read_id(&mut second)?;
    assert_ne!(second_id, first_id);
    Ok(())
}

/// Sends `payload` from `client`, whose ID is `id`, to itself, and checks
/// that it comes back with its terminator.
fn echo(client: &mut TcpStream, id: u32, payload: &[u8]) -> io::Result<()> {
    let sent = frame(id, payload);
    client.write_all(&sent)?;
    let mut echoed = vec![0; payload.len() + 1];
    client.read_exact(&mut echoed)?;
    assert_eq!(echoed, sent[4..]);
    Ok(())
}

/// CPU time this process has used, user and system.
fn cpu_time() -> io::Result<Duration> {
    let usage = getrusage(UsageWho::RUSAGE_SELF)?;
    let micros = usage.user_time().num_microseconds() + usage.system_time().num_microseconds();
    Ok(Duration::from_micros(micros as u64))
}

fn read_id(client: &mut TcpStream) -> io::Result<u32> {
    let mut id = [0; 4];
    client.read_exact(&mut id)?;
    Ok(u32::from_be_bytes(id))
}
