//! Pairs on different shards do not wait for each other: a destination
//! that does not read pauses only the senders to it, wherever they are, and
//! a sender paused behind a full destination on another shard resumes when
//! it drains. Run on every driver, with one shard (all of it local) and
//! with two (every pair here crossing between the shards' threads).

use std::io;

use router_core::{Config, Stats};
use router_tests::{Client, Driver, driver_tests, frame, start_observed, within};
use tokio::sync::watch;

driver_tests! {
    a_slow_destination_stalls_only_its_senders_who_resume_when_it_drains,
}

/// Frames the flooding sender writes: 4 MiB, far more than the slow
/// destination's queue (64 KiB) and the kernel's buffers between them hold.
const FLOOD_FRAMES: usize = 512;
const FLOOD_FRAME_BYTES: usize = 8 << 10;
/// Round trips of the pair that must not be slowed.
const ROUND_TRIPS: usize = 200;

async fn a_slow_destination_stalls_only_its_senders_who_resume_when_it_drains(
    driver: Driver,
) -> io::Result<()> {
    let config = Config {
        outbound_high_water: 64 << 10,
        outbound_low_water: 16 << 10,
        ..Config::default()
    };
    let (paused, mut watch_paused) = watch::channel(0);
    let observer = move |stats: &Stats| {
        paused.send_replace(stats.senders_paused);
    };
    let router = start_observed(driver, config, observer)?;
    // Placement alternates shards: the slow destination and the pair's
    // first client on shard 0, the flooder and the pair's second on shard 1.
    let mut slow = Client::connect_with_receive_buffer(router.addr, 4096).await?;
    let mut flooder = Client::connect(router.addr).await?;
    let mut ping = Client::connect(router.addr).await?;
    let mut pong = Client::connect(router.addr).await?;
    if driver.shards > 1 {
        let shard = |client: &Client| driver.shard_of(client.id);
        assert_ne!(shard(&slow), shard(&flooder), "the flood crosses shards");
        assert_ne!(shard(&ping), shard(&pong), "the pair crosses shards");
        assert_eq!(shard(&slow), shard(&ping), "the pair shares both threads");
    }

    let payload = |i: usize| format!("{i:08}").repeat(FLOOD_FRAME_BYTES / 8).into_bytes();
    let burst: Vec<u8> = (0..FLOOD_FRAMES)
        .flat_map(|i| frame(slow.id, &payload(i)))
        .collect();
    let flooding = tokio::spawn(async move {
        flooder.write_raw(&burst).await?;
        Ok::<_, io::Error>(flooder)
    });
    within("the flooder's pause", watch_paused.wait_for(|&n| n > 0))
        .await?
        .map_err(io::Error::other)?;

    // The pair, on the same two threads as the stalled flood, goes on.
    for round in 0..ROUND_TRIPS {
        let note = format!("round {round}");
        ping.send(pong.id, note.as_bytes()).await?;
        pong.expect_delivery(note.as_bytes()).await?;
        pong.send(ping.id, note.as_bytes()).await?;
        ping.expect_delivery(note.as_bytes()).await?;
    }
    assert!(*watch_paused.borrow() > 0, "the flooder was still paused");

    // The destination drains: the flooder resumes, and nothing is lost.
    for i in 0..FLOOD_FRAMES {
        slow.expect_delivery(&payload(i)).await?;
    }
    let mut flooder = within("the flood's end", flooding)
        .await?
        .map_err(io::Error::other)??;
    flooder.send(slow.id, b"after the flood").await?;
    slow.expect_delivery(b"after the flood").await?;

    let stats = router.stop().await?;
    assert!(stats.sender_pauses > 0, "{stats:?}");
    assert_eq!(stats.dropped_total().frames, 0, "{stats:?}");
    Ok(())
}
