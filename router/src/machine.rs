//! The machine's memory, for the default of `--max-buffered-bytes`.
//!
//! The core cannot read the machine, so its `Config::default()` has a fixed
//! budget; the server knows where it runs and defaults to a quarter of the
//! memory it may use: the machine's (`MemTotal` in `/proc/meminfo`), or its
//! control group's limit if that is lower (`memory.max`, cgroup v2, as set
//! for a container). A quarter leaves the rest to the kernel's socket
//! buffers, the allocator's slack, and whatever else runs there. Where
//! neither can be read (not Linux), the core's default stands.

use std::fs;

use router_core::Config;

const MIB: usize = 1 << 20;

/// The server's defaults: the core's, with the budget derived from the
/// machine.
pub(crate) fn defaults() -> Config {
    Config {
        max_buffered_bytes: default_max_buffered_bytes(),
        ..Config::default()
    }
}

/// A quarter of the memory this process may use, rounded down to a MiB (so
/// that `--help` shows it as one), or the core's default budget where that
/// cannot be read.
fn default_max_buffered_bytes() -> usize {
    let machine = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| mem_total(&text));
    let group = fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok());
    let usable = [machine, group].into_iter().flatten().min();
    let core = Config::default();
    usable.map_or(core.max_buffered_bytes, |bytes| {
        let quarter = usize::try_from(bytes / 4).unwrap_or(usize::MAX);
        (quarter & !(MIB - 1)).max(core.max_frame_bytes)
    })
}

/// `MemTotal` from the text of `/proc/meminfo`, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib = line.split_whitespace().nth(1)?.parse::<u64>().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mem_total_in_bytes() {
        let meminfo = "MemTotal:       16303652 kB\nMemFree:         1000 kB\n";
        assert_eq!(mem_total(meminfo), Some(16_303_652 * 1024));
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
        assert_eq!(mem_total("MemTotal: lots\n"), None);
    }

    #[test]
    fn the_default_is_a_valid_budget() {
        let config = defaults();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.max_buffered_bytes % MIB, 0);
        if cfg!(target_os = "linux") {
            let total = mem_total(&fs::read_to_string("/proc/meminfo").unwrap()).unwrap();
            assert!(config.max_buffered_bytes as u64 <= total / 4);
        }
    }
}
