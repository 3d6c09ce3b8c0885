//! The idle crowd: clients that get their ID and say nothing, held by a
//! child process.

use std::io::{self, BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use crate::busy_pair::connect;

/// The argument that makes this binary the child holding the idle clients:
/// `--hold-idle ADDR COUNT`.
const HOLD_IDLE: &str = "--hold-idle";

/// File descriptors a process needs besides the connections.
const FD_SLACK: usize = 256;

/// Idle clients, each connected and given its ID, held by a child process
/// until this is dropped.
pub(crate) struct IdleCrowd(Child);

impl IdleCrowd {
    pub(crate) fn open(addr: SocketAddr, count: usize) -> io::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .args([HOLD_IDLE, &addr.to_string(), &count.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().expect("piped");
        let crowd = IdleCrowd(child);
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        if line.trim() != "ready" {
            return Err(io::Error::other("the idle clients failed to connect"));
        }
        Ok(crowd)
    }
}

impl Drop for IdleCrowd {
    fn drop(&mut self) {
        // Closing its stdin tells the child to close its clients and exit.
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

/// If `args` make this process the child, runs it and returns its result.
pub(crate) fn run_as_child(args: &[String]) -> Option<io::Result<()>> {
    match args {
        [_, flag, addr, count] if flag == HOLD_IDLE => Some(hold_idle(addr, count)),
        _ => None,
    }
}

/// Opens `count` idle clients to `addr`, says `ready`, and holds them until
/// stdin closes (which it also does if the parent dies).
fn hold_idle(addr: &str, count: &str) -> io::Result<()> {
    let invalid = || io::Error::from(io::ErrorKind::InvalidInput);
    let addr: SocketAddr = addr.parse().map_err(|_| invalid())?;
    let count: usize = count.parse().map_err(|_| invalid())?;
    make_room_for(count);
    let clients = (0..count)
        .map(|_| connect(addr))
        .collect::<io::Result<Vec<_>>>()?;
    println!("ready");
    io::stdin().read_to_end(&mut Vec::new())?;
    drop(clients);
    Ok(())
}

/// Raises the open-file limit to fit one end of `count` connections;
/// returns how many fit.
pub(crate) fn make_room_for(count: usize) -> usize {
    let wanted = (count + FD_SLACK) as u64;
    let limit = rlimit::increase_nofile_limit(wanted).unwrap_or(0) as usize;
    let fits = count.min(limit.saturating_sub(FD_SLACK));
    if fits < count {
        eprintln!("RLIMIT_NOFILE is {limit}: measuring with {fits} idle connections, not {count}");
    }
    fits
}
