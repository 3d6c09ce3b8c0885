//! What the test process (router included) holds: memory and file
//! descriptors, read from `/proc/self`.
//!
//! The router runs in the test process, so these measure it, plus the test's
//! own clients. A test that measures them takes [`exclusive`] first, so that
//! no other test of the same binary allocates or opens sockets meanwhile.

use std::fs;
use std::io;

use tokio::sync::{Mutex, MutexGuard};

/// Serialises the tests of one test binary that measure the whole process.
static WHOLE_PROCESS: Mutex<()> = Mutex::const_new(());

/// Waits until no other test of this binary holding it is running. Hold the
/// guard for the whole test. Every test of a binary that measures the process
/// must take it, including the heavy tests that would disturb the measures.
pub async fn exclusive() -> MutexGuard<'static, ()> {
    WHOLE_PROCESS.lock().await
}

/// The process's resident memory (`VmRSS`), in bytes.
pub fn resident_bytes() -> io::Result<u64> {
    let status = fs::read_to_string("/proc/self/status")?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kib| kib.trim().parse::<u64>().ok())
        .ok_or_else(|| io::Error::other("no VmRSS line in /proc/self/status"))?;
    Ok(kib * 1024)
}

/// How many file descriptors the process has open.
pub fn open_fds() -> io::Result<usize> {
    Ok(fs::read_dir("/proc/self/fd")?.count())
}

/// Raises the soft limit on open files to the hard limit, and returns it.
pub fn raise_fd_limit() -> io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}
