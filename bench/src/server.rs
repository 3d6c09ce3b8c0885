//! Reading a local server's CPU time and memory from `/proc`, so that every result
//! can be put per server CPU-second and per connection.

use std::io;
use std::time::Duration;

use serde::Serialize;

use crate::workloads::Timing;

/// A server process on this machine, by PID.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServerProbe {
    pid: u32,
}

impl ServerProbe {
    /// Probes process `pid`; fails if it cannot be read.
    pub(crate) fn new(pid: u32) -> io::Result<Self> {
        let probe = Self { pid };
        probe.cpu_seconds()?;
        Ok(probe)
    }

    /// User plus system CPU time consumed so far, in seconds.
    pub(crate) fn cpu_seconds(&self) -> io::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))?;
        parse_cpu_ticks(&stat)
            .map(|ticks| ticks as f64 / clock_ticks_per_second())
            .ok_or_else(|| io::Error::other(format!("unparsable /proc/{}/stat", self.pid)))
    }

    /// Resident set size now, in bytes.
    pub(crate) fn rss_bytes(&self) -> io::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        parse_status_kib(&status, "VmRSS:")
            .map(|kib| kib * 1024)
            .ok_or_else(|| io::Error::other(format!("no VmRSS in /proc/{}/status", self.pid)))
    }
}

/// What the server consumed during one run's measurement window.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct ServerUsage {
    /// CPU seconds (user + system) inside the measurement window.
    pub(crate) cpu_seconds: f64,
    /// Highest RSS sampled during the run, in bytes.
    pub(crate) rss_peak_bytes: u64,
}

/// How often RSS is sampled for the peak.
const RSS_SAMPLE: Duration = Duration::from_millis(50);

/// Samples the server over `timing`: CPU at both ends of the window, RSS throughout.
pub(crate) async fn watch(probe: ServerProbe, timing: Timing) -> io::Result<ServerUsage> {
    let mut rss_peak = probe.rss_bytes()?;
    let mut cpu_at_start = None;
    let mut ticker = tokio::time::interval(RSS_SAMPLE);
    loop {
        ticker.tick().await;
        let now = std::time::Instant::now();
        if cpu_at_start.is_none() && now >= timing.measure_from {
            cpu_at_start = Some(probe.cpu_seconds()?);
        }
        rss_peak = rss_peak.max(probe.rss_bytes()?);
        if now >= timing.measure_until {
            break;
        }
        // Sleep exactly to the window's end rather than overshoot by a tick.
        if timing.measure_until - now < RSS_SAMPLE {
            tokio::time::sleep_until(timing.measure_until.into()).await;
        }
    }
    let cpu_at_end = probe.cpu_seconds()?;
    Ok(ServerUsage {
        cpu_seconds: cpu_at_end - cpu_at_start.unwrap_or(cpu_at_end),
        rss_peak_bytes: rss_peak,
    })
}

/// `utime + stime` in clock ticks from the text of `/proc/PID/stat`. The command name
/// (field 2) may contain spaces, so fields are counted after its closing parenthesis.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // Fields 3.. follow the name; utime and stime are fields 14 and 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The value in KiB of a `/proc/PID/status` line such as `VmRSS:  1234 kB`.
fn parse_status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions; it returns -1 for an unknown name.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_the_name() {
        let stat = "42 (nats server) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 1 0 0";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
    }

    #[test]
    fn parses_rss_from_status() {
        let status = "Name:\tredis-server\nVmHWM:\t  9000 kB\nVmRSS:\t  8192 kB\n";
        assert_eq!(parse_status_kib(status, "VmRSS:"), Some(8192));
        assert_eq!(parse_status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn reads_this_process() {
        let probe = ServerProbe::new(std::process::id()).unwrap();
        assert!(probe.rss_bytes().unwrap() > 0);
    }
}
