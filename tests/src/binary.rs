//! The `router` binary, built by cargo on first use and run as a child
//! process, for what only the binary does: flags, logs, signals, exit status.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStderr, Command};
use tokio::task::JoinHandle;

use crate::{Driver, within};

/// How long building the binary may take: from a clean clone, on two cores,
/// this compiles the router's whole dependency tree.
const BUILD_PATIENCE: Duration = Duration::from_secs(900);

/// The binary's path, or why it could not be built; built once per test binary.
static ROUTER_BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// A `router` process serving `127.0.0.1`, killed if dropped while running.
#[derive(Debug)]
pub struct RouterProcess {
    /// Where clients connect, as the router logged it.
    pub addr: SocketAddr,
    child: Child,
    pid: Pid,
    /// The rest of stderr after the `listening on` line, kept for the failure
    /// message of a router that does not exit cleanly.
    stderr: JoinHandle<Vec<String>>,
}

impl RouterProcess {
    /// Starts `router --listen 127.0.0.1:0 --driver <driver> --shards <n>`
    /// plus `args`, and
    /// waits for the line that logs the address it listens on.
    pub async fn spawn(driver: Driver, args: &[&str]) -> io::Result<Self> {
        let binary = router_binary().await?;
        let mut child = Command::new(binary)
            .args(["--listen", "127.0.0.1:0", "--driver", driver.name()])
            .arg(format!("--shards={}", driver.shards))
            .args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let pid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw)
            .ok_or_else(|| io::Error::other("the router exited at once"))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let (addr, stderr) =
            within("`listening on` log line", read_listening_addr(stderr)).await??;
        Ok(RouterProcess {
            addr,
            child,
            pid,
            stderr,
        })
    }

    /// Sends SIGTERM, which starts the graceful drain.
    pub fn terminate(&self) -> io::Result<()> {
        kill(self.pid, Signal::SIGTERM).map_err(io::Error::from)
    }

    /// Waits for the process to exit, and fails unless it exits with status 0.
    pub async fn expect_clean_exit(mut self) -> io::Result<()> {
        let status = within("router exit", self.child.wait()).await??;
        let stderr = within("end of the router's stderr", &mut self.stderr)
            .await?
            .map_err(io::Error::other)?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "router exited with {status}; its stderr after start-up:\n{}",
                stderr.join("\n")
            )))
        }
    }
}

/// Reads stderr up to the `listening on ADDR` line, then keeps draining it in
/// a task (a child blocked on a full pipe would never exit).
async fn read_listening_addr(
    stderr: ChildStderr,
) -> io::Result<(SocketAddr, JoinHandle<Vec<String>>)> {
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    while let Some(line) = lines.next_line().await? {
        if let Some(addr) = listening_addr(&line) {
            let rest = tokio::spawn(async move {
                let mut rest = Vec::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    rest.push(line);
                }
                rest
            });
            return Ok((addr, rest));
        }
        seen.push(line);
    }
    Err(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!(
            "the router exited without logging `listening on`; its stderr:\n{}",
            seen.join("\n")
        ),
    ))
}

/// The address in a log line containing `listening on ADDR`, whatever the
/// log format around it.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let (_, rest) = line.split_once("listening on ")?;
    let end = rest
        .find(|c: char| !(c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']')))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Builds the `router` binary with cargo (a no-op when it is fresh) in the
/// workspace's own target directory and profile, and returns its path. Tests
/// cannot name another package's binary any other way (`CARGO_BIN_EXE_*`
/// exists only within the binary's own package), and this keeps
/// `cargo test -p router-tests` working from a clean clone.
async fn router_binary() -> io::Result<PathBuf> {
    let build = tokio::task::spawn_blocking(|| {
        ROUTER_BINARY
            .get_or_init(|| {
                escargot::CargoBuild::new()
                    .manifest_path(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
                    .package("router")
                    .bin("router")
                    .current_release()
                    .run()
                    .map(|run| run.path().to_owned())
                    .map_err(|error| format!("cannot build the router binary: {error}"))
            })
            .clone()
    });
    tokio::time::timeout(BUILD_PATIENCE, build)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "building the router binary"))?
        .map_err(io::Error::other)?
        .map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::listening_addr;

    #[test]
    fn finds_the_address_in_a_log_line() {
        let line = "2025-01-01T00:00:00Z  INFO router: listening on 127.0.0.1:40123 driver=mio";
        assert_eq!(
            listening_addr(line),
            Some("127.0.0.1:40123".parse().unwrap())
        );
        assert_eq!(
            listening_addr("listening on [::1]:8080"),
            Some("[::1]:8080".parse().unwrap())
        );
        assert_eq!(listening_addr("INFO router: starting"), None);
    }
}
