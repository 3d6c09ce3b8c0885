//! The example run as a user would: a router, a worker process and a
//! dispatcher process; the dispatcher prints every result and exits 0, and
//! the worker exits 0 when told to stop.

use std::io;
use std::process::Stdio;

use router_core::Config;
use router_tests::{Driver, driver_tests, start, within};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

driver_tests! {
    a_dispatcher_gets_every_result_from_a_worker,
}

fn jobs() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_jobs"));
    command.kill_on_drop(true);
    command
}

async fn a_dispatcher_gets_every_result_from_a_worker(driver: Driver) -> io::Result<()> {
    let router = start(driver, Config::default())?;
    let addr = router.addr.to_string();

    let mut worker = jobs()
        .args(["--addr", &addr, "worker"])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(worker.stdout.take().expect("stdout is piped")).lines();
    let first = within("the worker's ID", lines.next_line())
        .await??
        .unwrap_or_default();
    let id = first
        .strip_prefix("worker ")
        .unwrap_or_else(|| panic!("the worker's first line is {first:?}"));

    let dispatched = within(
        "the dispatcher",
        jobs()
            .args(["--addr", &addr, "dispatch", "--worker", id])
            .args(["10", "100", "1000", "10000", "2"])
            .output(),
    )
    .await??;
    let stdout = String::from_utf8_lossy(&dispatched.stdout);
    assert!(dispatched.status.success(), "{dispatched:?}");
    assert_eq!(
        stdout,
        "primes below 10: 4\nprimes below 100: 25\nprimes below 1000: 168\n\
         primes below 10000: 1229\nprimes below 2: 0\n"
    );

    let status = within("the worker to stop", worker.wait()).await??;
    assert!(status.success(), "{status}");
    let stats = router.stop().await?;
    assert_eq!(stats.routed.frames, 11, "5 jobs, 5 results, 1 stop");
    Ok(())
}
