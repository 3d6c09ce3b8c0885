//! The memory budget against the partial-frame attack: many clients each
//! send a frame header and just under `max_frame_bytes`, with no terminator,
//! then wait. The router must stay within `max_buffered_bytes` (measured as
//! the test process's resident memory, the router running in it) and keep
//! serving a pair that connects meanwhile. It measures the whole process, so
//! it holds [`exclusive`] for its whole run.

use std::io;
use std::sync::Arc;

use router_core::{CloseCause, Config, DropCause, Stats};
use router_tests::{
    Client, Driver, driver_tests, exclusive, is_reset, resident_bytes, start_observed, within,
};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio::task::JoinSet;

driver_tests! {
    partial_frame_attack_is_held_to_the_budget_while_a_new_pair_is_served,
}

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

async fn partial_frame_attack_is_held_to_the_budget_while_a_new_pair_is_served(
    driver: Driver,
) -> io::Result<()> {
    let _whole_process = exclusive().await;
    const MAX_FRAME: usize = MIB;
    const BUDGET: usize = 16 * MIB;
    const ATTACKERS: usize = 64;
    /// Allocator and runtime slack, the drivers' read buffers, and the
    /// test's own clients, beyond what the budget lets the router hold.
    const OVERHEAD: u64 = 16 * MIB as u64;
    const ROUND_TRIPS: usize = 20;
    const _: () = assert!(
        ATTACKERS * MAX_FRAME >= 4 * BUDGET,
        "the attack exceeds the budget"
    );
    let config = Config {
        max_frame_bytes: MAX_FRAME,
        max_buffered_bytes: BUDGET,
        ..Config::default()
    };
    let (publish, mut stats) = watch::channel(Stats::default());
    let router = start_observed(driver, config, move |now: &Stats| {
        publish.send_replace(now.clone());
    })?;
    let mut attackers = Vec::new();
    for _ in 0..ATTACKERS {
        attackers.push(Client::connect(router.addr).await?);
    }
    // One unfinished frame, shared by every attacker: allocated before the
    // baseline, like the clients' sockets.
    let mut unfinished = attackers[0].id.to_be_bytes().to_vec();
    unfinished.resize(4 + MAX_FRAME - 1, b'u');
    let unfinished = Arc::new(unfinished);
    let memory_before = resident_bytes()?;

    let mut attacking = JoinSet::new();
    for mut attacker in attackers {
        let unfinished = Arc::clone(&unfinished);
        attacking.spawn(async move {
            match attacker.stream().write_all(&unfinished).await {
                // Shed by the router in the middle of the frame.
                Err(error) if is_reset(&error) => Ok(attacker),
                written => written.map(|()| attacker),
            }
        });
    }
    let mut holding = Vec::new();
    while let Some(attacker) = within("attacker's write", attacking.join_next()).await? {
        holding.push(attacker??);
    }
    // At most BUDGET / MAX_FRAME unfinished frames fit; all the others'
    // senders are closed, once the router has read them.
    let shed_at_least = (ATTACKERS - BUDGET / MAX_FRAME) as u64;
    within(
        "the router to shed the attackers over the budget",
        stats.wait_for(|s| s.closed(CloseCause::MemoryBudget) >= shed_at_least),
    )
    .await?
    .map_err(|_| io::Error::other("the router stopped"))?;

    let mut alice = Client::connect(router.addr).await?;
    let mut bob = Client::connect(router.addr).await?;
    for round in 0..ROUND_TRIPS {
        let ping = format!("ping {round}");
        alice.send(bob.id, ping.as_bytes()).await?;
        bob.expect_delivery(ping.as_bytes()).await?;
        let pong = format!("pong {round}");
        bob.send(alice.id, pong.as_bytes()).await?;
        alice.expect_delivery(pong.as_bytes()).await?;
    }

    let growth = resident_bytes()?.saturating_sub(memory_before);
    let bound = BUDGET as u64 + OVERHEAD;
    assert!(
        growth < bound,
        "memory grew by {growth} bytes under the attack, over the budget and overhead ({bound})"
    );
    let buffered = stats.borrow().bytes_buffered;
    assert!(
        buffered <= BUDGET as u64,
        "the router counts {buffered} bytes held"
    );

    drop(holding);
    let stats = router.stop().await?;
    let shed = stats.closed(CloseCause::MemoryBudget);
    assert!(shed >= shed_at_least, "{shed} attackers shed");
    // Every attacker's frame was cut off: by the budget, or by its close.
    assert_eq!(stats.dropped(DropCause::Truncated).frames, ATTACKERS as u64);
    assert_eq!(stats.dropped_whole().frames, 0, "a whole frame was lost");
    assert_eq!(stats.routed.frames, 2 * ROUND_TRIPS as u64);
    Ok(())
}
