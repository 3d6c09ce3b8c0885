//! Running out of file descriptors: `accept` fails with `EMFILE`, the loop
//! backs off instead of spinning, keeps serving, and admits the waiting
//! client once a descriptor frees up.
//!
//! The descriptor limit is per process, so this test has its own binary, and
//! holds the only test in it.
#![cfg(target_os = "linux")]

use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::thread;
use std::time::Duration;

use driver_mio::{Config, Server};

const PATIENCE: Duration = Duration::from_secs(10);

/// How long the test watches the loop while `accept` keeps failing.
const STARVED_FOR: Duration = Duration::from_millis(500);

fn descriptor_limit() -> libc::rlimit {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` writes one `rlimit` through a valid pointer.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    limit
}

fn set_descriptor_limit(limit: libc::rlimit) {
    // SAFETY: `setrlimit` reads one `rlimit` through a valid pointer.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
}

/// CPU time this process has used, user and system.
fn cpu_time() -> Duration {
    // SAFETY: an all-zero `rusage` is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `getrusage` writes one `rusage` through a valid pointer.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) }, 0);
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

fn read_id(client: &mut TcpStream) -> io::Result<u32> {
    let mut id = [0; 4];
    client.read_exact(&mut id)?;
    Ok(u32::from_be_bytes(id))
}

#[test]
fn accept_backs_off_when_out_of_descriptors_and_recovers() {
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), Config::default()).unwrap();
    let addr = server.local_addr();
    let shutdown = server.shutdown_handle();
    let loop_thread = thread::spawn(move || server.run());

    let mut first = TcpStream::connect(addr).unwrap();
    first.set_read_timeout(Some(PATIENCE)).unwrap();
    let first_id = read_id(&mut first).unwrap();

    // Allow exactly one more descriptor: the next client's socket takes it,
    // so the router's `accept` of that client fails with EMFILE.
    let lowest_free = File::open("/dev/null").unwrap().as_raw_fd();
    let original = descriptor_limit();
    set_descriptor_limit(libc::rlimit {
        rlim_cur: lowest_free as libc::rlim_t + 1,
        ..original
    });
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

    // The router still serves the connection it has.
    let mut echo = first_id.to_be_bytes().to_vec();
    echo.extend_from_slice(b"still here\0");
    first.write_all(&echo).unwrap();
    let mut echoed = [0; 11];
    first.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"still here\0");

    // Closing it frees descriptors on both sides; the waiting client is
    // admitted once the back-off ends.
    drop(first);
    second.set_read_timeout(Some(PATIENCE)).unwrap();
    let second_id = read_id(&mut second).unwrap();
    assert_ne!(second_id, first_id);

    set_descriptor_limit(original);
    shutdown.shutdown();
    let stats = loop_thread.join().unwrap().unwrap();
    assert_eq!(stats.connections_accepted, 2);
    // The router decided the pause: it counted the failures it was told of.
    assert!(stats.accept_pauses > 0, "{stats:?}");
    assert_eq!(stats.accept_errors, stats.accept_pauses);
}
