//! What the router costs and how far it scales: memory under a flood,
//! thousands of connections at once, thousands of connections one after the
//! other. These measure the whole test process (the router runs in it), so
//! each holds [`exclusive`] for its whole run.

use std::collections::HashSet;
use std::io;
use std::time::Duration;

use router_core::{CloseCause, Config, DropCause};
use router_tests::{
    Client, Driver, driver_tests, exclusive, frame, open_fds, raise_fd_limit, resident_bytes,
    start, within,
};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio::task::JoinSet;

driver_tests! {
    no_head_of_line_blocking_and_bounded_memory,
    five_thousand_concurrent_connections,
    churn_leaks_no_file_descriptors,
}

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// A client that never reads is flooded by one sender far beyond what the
/// router may buffer for it. Meanwhile eight other pairs play ping-pong, and
/// every round trip must complete; and the process's memory grows by no more
/// than the configuration allows for the non-reader, not by the flood.
async fn no_head_of_line_blocking_and_bounded_memory(driver: Driver) -> io::Result<()> {
    let _whole_process = exclusive().await;
    const HIGH_WATER: usize = 64 * KIB;
    const MAX_FRAME: usize = 16 * KIB;
    const FLOOD_BYTES: usize = 64 * MIB;
    const PAIRS: usize = 8;
    const ROUND_TRIPS: usize = 100;
    let config = Config {
        outbound_high_water: HIGH_WATER,
        outbound_low_water: 16 * KIB,
        max_frame_bytes: MAX_FRAME,
        drain_timeout: Duration::from_secs(1),
        ..Config::default()
    };
    // Allocator and runtime slack, plus what the config lets the router hold
    // for the non-reader and its paused sender: a full queue, the held frame,
    // the partial frame behind it.
    let memory_bound = (4 * MIB + HIGH_WATER + 2 * MAX_FRAME) as u64;
    assert!(FLOOD_BYTES as u64 > 10 * memory_bound);

    let router = start(driver, config)?;
    let non_reader = Client::connect(router.addr).await?;
    let mut flooder = Client::connect(router.addr).await?;
    let mut pairs = Vec::new();
    for _ in 0..PAIRS {
        pairs.push((
            Client::connect(router.addr).await?,
            Client::connect(router.addr).await?,
        ));
    }
    let memory_before = resident_bytes()?;

    let chunk: Vec<u8> = (0..8)
        .flat_map(|_| frame(non_reader.id, &[b'f'; 8 * KIB]))
        .collect();
    let (progress, mut flooded) = watch::channel(0);
    // Its writes block for good once the router pauses it, so it is not
    // awaited (no timeout either) but aborted at the end.
    let flooding = tokio::spawn(async move {
        for _ in 0..FLOOD_BYTES / chunk.len() {
            flooder.stream().write_all(&chunk).await?;
            progress.send_modify(|written| *written += chunk.len());
        }
        Ok::<_, io::Error>(())
    });
    within(
        "flood beyond the high-water mark",
        flooded.wait_for(|&written| written >= 2 * HIGH_WATER),
    )
    .await?
    .map_err(|_| io::Error::other("the flooder failed"))?;

    let mut playing = JoinSet::new();
    for (mut ping, mut pong) in pairs {
        playing.spawn(async move {
            let payload = [b'p'; KIB];
            for _ in 0..ROUND_TRIPS {
                ping.send(pong.id, &payload).await?;
                pong.expect_delivery(&payload).await?;
                pong.send(ping.id, &payload).await?;
                ping.expect_delivery(&payload).await?;
            }
            Ok::<_, io::Error>(())
        });
    }
    while let Some(played) = within("ping-pong pair", playing.join_next()).await? {
        played??;
    }

    let growth = resident_bytes()?.saturating_sub(memory_before);
    assert!(
        growth < memory_bound,
        "memory grew by {growth} bytes under the flood, more than the {memory_bound} the config allows"
    );
    assert!(
        !flooding.is_finished(),
        "the flooder was never paused: all {FLOOD_BYTES} bytes were taken"
    );
    flooding.abort();
    drop(non_reader);
    let stats = router.stop().await?;
    assert_eq!(stats.dropped(DropCause::DestinationFull).frames, 0);
    Ok(())
}

/// Five thousand clients connected at once each get their own ID, cost the
/// process little memory each, and a sample of them exchange frames.
async fn five_thousand_concurrent_connections(driver: Driver) -> io::Result<()> {
    let _whole_process = exclusive().await;
    const CLIENTS: usize = 5000;
    /// Connections opened at once: within the listen backlog the drivers'
    /// listener asks for (`router::LISTEN_BACKLOG`). A larger burst
    /// overflows it, and the kernel drops SYNs, which clients retry only
    /// after a second.
    const WAVE: usize = 1000;
    /// Per connection, both ends (the router's and the client's) together.
    const MEMORY_PER_CONNECTION: u64 = 16 * KIB as u64;
    let fd_limit = raise_fd_limit()?;
    assert!(
        fd_limit >= 2 * CLIENTS as u64 + 256,
        "RLIMIT_NOFILE's hard limit ({fd_limit}) is too low for {CLIENTS} clients and their \
         server sockets in one process"
    );
    let router = start(driver, Config::default())?;
    let memory_before = resident_bytes()?;

    let mut clients = Vec::with_capacity(CLIENTS);
    while clients.len() < CLIENTS {
        let mut connecting = JoinSet::new();
        for _ in 0..WAVE {
            connecting.spawn(Client::connect(router.addr));
        }
        while let Some(client) = connecting.join_next().await {
            clients.push(client??);
        }
    }
    let ids: HashSet<u32> = clients.iter().map(|client| client.id).collect();
    assert_eq!(
        ids.len(),
        CLIENTS,
        "two live clients were given the same ID"
    );
    let per_connection = resident_bytes()?.saturating_sub(memory_before) / CLIENTS as u64;
    assert!(
        per_connection < MEMORY_PER_CONNECTION,
        "an idle connection costs {per_connection} bytes"
    );

    for i in (0..CLIENTS).step_by(100) {
        let [a, b] = &mut clients[i..i + 2] else {
            unreachable!("two clients")
        };
        a.send(b.id, format!("{} to {}", a.id, b.id).as_bytes())
            .await?;
        b.expect_delivery(format!("{} to {}", a.id, b.id).as_bytes())
            .await?;
        b.send(a.id, b"and back").await?;
        a.expect_delivery(b"and back").await?;
    }
    let last_id = clients[CLIENTS - 1].id;
    clients[0].send(last_id, b"first to last").await?;
    clients[CLIENTS - 1]
        .expect_delivery(b"first to last")
        .await?;

    let stats = router.stop().await?;
    assert_eq!(stats.connections_accepted, CLIENTS as u64);
    assert_eq!(stats.closed(CloseCause::Shutdown), CLIENTS as u64);
    Ok(())
}

/// Thousands of connect / read ID / close cycles leave the process with the
/// file descriptors it had, hand out fresh IDs in sequence (in each shard),
/// and leave the
/// router serving.
async fn churn_leaks_no_file_descriptors(driver: Driver) -> io::Result<()> {
    let _whole_process = exclusive().await;
    const CYCLES: usize = 3000;
    /// Descriptors the runtime or allocator may open on their own meanwhile.
    const SLACK: usize = 4;
    let router = start(driver, Config::default())?;
    // One cycle first, so that whatever is opened once on first use is
    // counted in the baseline.
    Client::connect(router.addr).await?.disconnect().await?;
    let fds_before = open_fds()?;

    // IDs go in sequence within each shard (the router as a whole need not).
    let mut previous_ids = std::collections::HashMap::new();
    for _ in 0..CYCLES {
        let client = Client::connect(router.addr).await?;
        let shard = driver.shard_of(client.id);
        if let Some(previous) = previous_ids.insert(shard, client.id) {
            assert!(
                client.id > previous,
                "ID {} was handed out after {previous} by shard {shard}: IDs go in sequence",
                client.id
            );
        }
        // Returns once the router has closed its socket.
        client.disconnect().await?;
    }
    let fds_after = open_fds()?;
    assert!(
        fds_after <= fds_before + SLACK,
        "{fds_before} file descriptors were open before {CYCLES} connections came and went, \
         {fds_after} after"
    );

    let mut alice = Client::connect(router.addr).await?;
    let mut bob = Client::connect(router.addr).await?;
    alice.send(bob.id, b"still serving").await?;
    bob.expect_delivery(b"still serving").await?;

    let stats = router.stop().await?;
    assert_eq!(stats.closed(CloseCause::Eof), CYCLES as u64 + 1);
    assert_eq!(stats.connections_accepted, CYCLES as u64 + 3);
    Ok(())
}
