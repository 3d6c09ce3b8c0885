//! Does a crowd of idle connections slow down the busy ones?
//!
//! A driver that polls every connection on every wake-up does work in
//! proportion to all connections; ours do work in proportion to the sockets
//! that became ready. This measures it for each driver: one busy pair of
//! clients of an in-process router on 127.0.0.1, with no other connection
//! and with 10 000 idle ones. The pair either streams 1 KiB frames (few
//! wake-ups per byte) or bounces one small frame back and forth (a wake-up
//! per frame, where any per-wake-up cost shows: a variant of the async
//! drivers that polled every connection on each wake-up, as racing a `Vec`
//! of futures does, fell there to 0.03-0.06 of its quiet rate).
//!
//! `cargo bench -p router-bench --bench idle_connections`
//! (`IDLE_CONNECTIONS=n` to change the crowd). Run without `--bench` (as
//! `cargo test --benches` does), it is a quick smoke run with a small crowd.
//!
//! Two routers of the same driver run side by side, one with the crowd and
//! one without, and the rounds alternate between them, so that whatever else
//! loads the machine weighs on both alike. Each round gives the pair's
//! throughput and the CPU time the routers' threads spent per unit of it;
//! the figures are medians over the rounds, the ratios medians of each
//! round's crowded / quiet. Throughput on a shared two-core machine swings
//! with scheduling; CPU per unit is the steadier measure of the work a crowd
//! adds (Linux only: read from `/proc`).
//!
//! The idle clients live in a child process (this same binary, run with
//! `--hold-idle`), so that each process holds one end of each connection and
//! fits the usual limit of open files; both raise `RLIMIT_NOFILE` as far as
//! they may, and the crowd shrinks if it must.

mod busy_pair;
mod crowd;
mod routers;

use std::io;

use crate::busy_pair::{Round, Workload};
use crate::crowd::IdleCrowd;
use crate::routers::{Driver, RunningRouter};

/// How much to measure.
struct Plan {
    idle: usize,
    workloads: [Workload; 2],
    rounds: usize,
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(result) = crowd::run_as_child(&args) {
        return result;
    }
    let full = args.iter().any(|arg| arg == "--bench");
    let mut plan = if full {
        Plan {
            idle: 10_000,
            workloads: [
                Workload::Stream { bytes: 256 << 20 },
                Workload::PingPong {
                    round_trips: 20_000,
                },
            ],
            rounds: 7,
        }
    } else {
        println!("smoke run (no --bench): too short for the figures to mean anything");
        Plan {
            idle: 50,
            workloads: [
                Workload::Stream { bytes: 4 << 20 },
                Workload::PingPong { round_trips: 500 },
            ],
            rounds: 1,
        }
    };
    if let Some(idle) = std::env::var("IDLE_CONNECTIONS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        plan.idle = idle;
    }
    plan.idle = crowd::make_room_for(plan.idle);

    println!(
        "quiet: the busy pair alone; crowded: with {} idle connections; medians of {} rounds",
        plan.idle, plan.rounds
    );
    println!(
        "{:<6} {:<13} {:>8} {:>8} {:>6}   {:<8} {:>6} {:>7} {:>6}",
        "driver", "throughput", "quiet", "crowded", "ratio", "CPU", "quiet", "crowded", "ratio"
    );
    for driver in Driver::ALL {
        let quiet_router = RunningRouter::start(driver)?;
        let crowded_router = RunningRouter::start(driver)?;
        let crowd = IdleCrowd::open(crowded_router.addr, plan.idle)?;
        for workload in plan.workloads {
            let [quiet, crowded, ratio] =
                compare(workload, &quiet_router, &crowded_router, plan.rounds)?;
            let (rate_unit, cpu_unit) = workload.units();
            println!(
                "{:<6} {rate_unit:<13} {:>8.0} {:>8.0} {:>6.2}   {cpu_unit:<8} {:>6.1} {:>7.1} {:>6.2}",
                driver.name(),
                quiet.rate,
                crowded.rate,
                ratio.rate,
                quiet.cpu_us,
                crowded.cpu_us,
                ratio.cpu_us,
            );
        }
        drop(crowd);
        quiet_router.stop()?;
        let stats = crowded_router.stop()?;
        assert!(stats.connections_accepted as usize >= plan.idle);
    }
    Ok(())
}

/// Medians over the rounds of the quiet router, of the crowded one, and of
/// each round's crowded / quiet.
fn compare(
    workload: Workload,
    quiet_router: &RunningRouter,
    crowded_router: &RunningRouter,
    rounds: usize,
) -> io::Result<[Round; 3]> {
    let (mut quiet, mut crowded, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..=rounds {
        let q = workload.round(quiet_router.addr)?;
        let c = workload.round(crowded_router.addr)?;
        if round > 0 {
            // Round 0 warms both up.
            ratio.push(c.ratio_to(&q));
            quiet.push(q);
            crowded.push(c);
        }
    }
    Ok([quiet, crowded, ratio].map(Round::median))
}
