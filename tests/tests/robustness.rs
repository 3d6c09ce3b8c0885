//! What a misbehaving or unlucky client can do to the router: fail, break the
//! protocol, stop reading, or come one too many. Each time the router deals
//! with that client alone, and every other client goes on unaffected.

use std::io;
use std::time::{Duration, Instant};

use router_core::{CloseCause, Config, DropCause, OverflowPolicy};
use router_tests::{Client, Driver, driver_tests, frame, is_reset, start, within};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

driver_tests! {
    shutdown_closes_the_listener_before_the_connections,
    reset_connections_affect_nobody_else,
    oversized_frame_closes_its_sender_only,
    write_stall_timeout_closes_non_reader_and_releases_senders,
    drop_policy_never_pauses_the_sender,
    idle_timeout_closes_silent_connections,
    connection_limit_refuses_without_an_id,
}

/// A sender reset in the middle of a frame, and a destination reset while
/// the router is writing to it: each is closed and counted, the destination's
/// sender is released, and the other clients keep talking.
async fn reset_connections_affect_nobody_else(driver: Driver) -> io::Result<()> {
    let router = start(driver, Config::default())?;
    let mut alice = Client::connect(router.addr).await?;
    let mut bob = Client::connect(router.addr).await?;

    let mut failing_sender = Client::connect(router.addr).await?;
    let half = frame(bob.id, b"never finished");
    failing_sender.write_raw(&half[..half.len() / 2]).await?;
    failing_sender.reset()?;

    let mut failing_destination = Client::connect(router.addr).await?;
    let mut flooder = Client::connect(router.addr).await?;
    // More than the default high-water mark, so that the router is writing
    // to the destination, and may hold the flooder paused, when it fails.
    let flood = frames_to(failing_destination.id, 4 << 20, 64 << 10);
    let bob_id = bob.id;
    let flooding = tokio::spawn(async move {
        flooder.write_raw(&flood).await?;
        flooder.send(bob_id, b"released after the reset").await
    });
    let mut first_bytes = [0; 1024];
    within(
        "first flood bytes",
        failing_destination.stream().read_exact(&mut first_bytes),
    )
    .await??;
    failing_destination.reset()?;

    bob.expect_delivery(b"released after the reset").await?;
    let flooded = within("flooder task", flooding).await??;
    flooded?;
    alice.send(bob.id, b"unaffected").await?;
    bob.expect_delivery(b"unaffected").await?;
    bob.send(alice.id, b"reply").await?;
    alice.expect_delivery(b"reply").await?;

    let stats = router.stop().await?;
    assert_eq!(stats.closed(CloseCause::Reset), 2);
    Ok(())
}

/// A frame at the size limit is delivered; one past it, still without a
/// terminator, closes its sender at once, delivers nothing of itself, and is
/// counted, while the other clients carry on.
async fn oversized_frame_closes_its_sender_only(driver: Driver) -> io::Result<()> {
    const LIMIT: usize = 1024;
    let config = Config {
        max_frame_bytes: LIMIT,
        ..Config::default()
    };
    let router = start(driver, config)?;
    let mut violator = Client::connect(router.addr).await?;
    let mut receiver = Client::connect(router.addr).await?;
    let mut bystander = Client::connect(router.addr).await?;

    violator.send(receiver.id, &[b'x'; LIMIT]).await?;
    receiver.expect_delivery(&[b'x'; LIMIT]).await?;

    // Four times the limit and no terminator: the router must not wait for one.
    let mut oversized = receiver.id.to_be_bytes().to_vec();
    oversized.resize(4 + 4 * LIMIT, b'y');
    match violator.write_raw(&oversized).await {
        Err(error) if is_reset(&error) => {} // Closed before the last bytes.
        written => written?,
    }
    violator.expect_closed().await?;

    // The violator is gone: anything of its frame would come before this.
    bystander.send(receiver.id, b"marker").await?;
    receiver.expect_delivery(b"marker").await?;
    receiver.send(bystander.id, b"reply").await?;
    bystander.expect_delivery(b"reply").await?;

    let stats = router.stop().await?;
    assert_eq!(stats.closed(CloseCause::ProtocolViolation), 1);
    assert_eq!(stats.dropped(DropCause::Oversized).frames, 1);
    assert_eq!(stats.routed.frames, 3);
    Ok(())
}

/// A client that never reads, flooded until its sender is paused, is closed
/// once it has accepted nothing for `write_stall_timeout`; the paused sender
/// then resumes, and its next frame to someone else goes through.
async fn write_stall_timeout_closes_non_reader_and_releases_senders(
    driver: Driver,
) -> io::Result<()> {
    let stall = Duration::from_millis(300);
    let config = Config {
        write_stall_timeout: stall,
        outbound_high_water: 64 << 10,
        outbound_low_water: 16 << 10,
        ..Config::default()
    };
    let router = start(driver, config)?;
    let mut non_reader = Client::connect(router.addr).await?;
    let mut flooder = Client::connect(router.addr).await?;
    let mut receiver = Client::connect(router.addr).await?;

    // Far more than the socket buffers and the high-water mark hold, so the
    // flooder is paused long before its last frame.
    const FLOOD_BYTES: usize = 16 << 20;
    const FRAME_BYTES: usize = 8 << 10;
    let flood = frames_to(non_reader.id, FLOOD_BYTES, FRAME_BYTES);
    let receiver_id = receiver.id;
    let started = Instant::now();
    let flooding = tokio::spawn(async move {
        flooder.write_raw(&flood).await?;
        flooder.send(receiver_id, b"released").await
    });

    receiver.expect_delivery(b"released").await?;
    let waited = started.elapsed();
    assert!(
        waited >= stall,
        "the flooder's frame went through after {waited:?}, before the stall timeout closed the non-reader"
    );
    let flooded = within("flooder task", flooding).await??;
    flooded?;

    // What the non-reader got before it was closed: a prefix of its frames.
    let got = non_reader.read_until_closed().await?;
    let delivered_in_full = delivered_stream(FLOOD_BYTES, FRAME_BYTES);
    assert!(
        got.len() < delivered_in_full.len(),
        "the non-reader was sent the whole flood"
    );
    assert!(
        delivered_in_full.starts_with(&got),
        "the non-reader received bytes that are not its frames, in order"
    );

    let stats = router.stop().await?;
    assert_eq!(stats.closed(CloseCause::WriteStall), 1);
    assert!(stats.dropped(DropCause::DestinationClosed).frames > 0);
    Ok(())
}

/// Under `overflow_policy = drop`, frames to a full destination are dropped
/// and counted, and their sender is never paused: its next frame to someone
/// else goes through at once, long before the non-reader could time out.
async fn drop_policy_never_pauses_the_sender(driver: Driver) -> io::Result<()> {
    let config = Config {
        overflow_policy: OverflowPolicy::Drop,
        outbound_high_water: 64 << 10,
        outbound_low_water: 16 << 10,
        // Far beyond PATIENCE: only a sender that is never paused passes.
        write_stall_timeout: Duration::from_secs(3600),
        drain_timeout: Duration::from_secs(1),
        ..Config::default()
    };
    let router = start(driver, config)?;
    let non_reader = Client::connect(router.addr).await?;
    let mut flooder = Client::connect(router.addr).await?;
    let mut receiver = Client::connect(router.addr).await?;

    flooder
        .write_raw(&frames_to(non_reader.id, 16 << 20, 8 << 10))
        .await?;
    flooder.send(receiver.id, b"never held").await?;
    receiver.expect_delivery(b"never held").await?;

    drop(non_reader);
    let stats = router.stop().await?;
    assert!(stats.dropped(DropCause::DestinationFull).frames > 0);
    Ok(())
}

/// With `idle_timeout` set, a client that sends nothing and has nothing
/// queued is closed once the timeout has passed, and counted.
async fn idle_timeout_closes_silent_connections(driver: Driver) -> io::Result<()> {
    let idle = Duration::from_millis(300);
    let config = Config {
        idle_timeout: Some(idle),
        ..Config::default()
    };
    let router = start(driver, config)?;
    let connected = Instant::now();
    let mut silent = Client::connect(router.addr).await?;
    silent.expect_closed().await?;
    let waited = connected.elapsed();
    assert!(
        waited >= idle,
        "closed after {waited:?}, before the idle timeout of {idle:?}"
    );
    let stats = router.stop().await?;
    assert_eq!(stats.closed(CloseCause::Idle), 1);
    Ok(())
}

/// Past `max_connections`, a connection is closed without an ID; once a
/// client leaves, the next connection is accepted.
async fn connection_limit_refuses_without_an_id(driver: Driver) -> io::Result<()> {
    let config = Config {
        max_connections: 3,
        ..Config::default()
    };
    let router = start(driver, config)?;
    let first = Client::connect(router.addr).await?;
    let second = Client::connect(router.addr).await?;
    let third = Client::connect(router.addr).await?;

    let mut refused = within("connection", TcpStream::connect(router.addr)).await??;
    let mut byte = [0; 1];
    match within("refusal", refused.read(&mut byte)).await? {
        Ok(0) => {}
        Err(error) if is_reset(&error) => {}
        Ok(_) => panic!("a connection past the limit was sent a byte: {byte:?}"),
        Err(error) => return Err(error),
    }

    // When disconnect() returns, the router has closed `first`: a slot is free.
    let first_id = first.id;
    first.disconnect().await?;
    let fourth = Client::connect(router.addr).await?;
    for id in [first_id, second.id, third.id] {
        assert_ne!(fourth.id, id, "an ID was handed out twice");
    }

    let stats = router.stop().await?;
    assert_eq!(stats.connections_refused, 1);
    assert_eq!(stats.connections_accepted, 4);
    Ok(())
}

/// Frames of `frame_bytes` payload to `dest`, `total_bytes` of payload in all.
fn frames_to(dest: u32, total_bytes: usize, frame_bytes: usize) -> Vec<u8> {
    let payload = vec![b'f'; frame_bytes];
    (0..total_bytes / frame_bytes)
        .flat_map(|_| frame(dest, &payload))
        .collect()
}

/// What the destination of [`frames_to`] receives: each payload and its
/// terminator.
fn delivered_stream(total_bytes: usize, frame_bytes: usize) -> Vec<u8> {
    let mut delivered = vec![b'f'; frame_bytes];
    delivered.push(0);
    delivered.repeat(total_bytes / frame_bytes)
}

/// On shutdown the router closes its listener first, so the kernel refuses
/// new clients at once (none waits in a backlog for an ID that never comes),
/// then each connection with nothing queued to it, the same on every driver.
async fn shutdown_closes_the_listener_before_the_connections(driver: Driver) -> io::Result<()> {
    let mut router = start(driver, Config::default())?;
    let mut idle = Client::connect(router.addr).await?;
    let mut sender = Client::connect(router.addr).await?;
    let mut reader = Client::connect(router.addr).await?;
    sender.send(reader.id, b"flushed before the close").await?;
    reader.expect_delivery(b"flushed before the close").await?;

    router.begin_shutdown();
    // Closed after the listener, in the same step: its EOF says the
    // listener is gone.
    idle.expect_closed().await?;
    let refused = TcpStream::connect(router.addr).await.unwrap_err();
    assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
    sender.expect_closed().await?;
    reader.expect_closed().await?;

    let stats = router.stop().await?;
    assert_eq!(stats.connections_accepted, 3);
    assert_eq!(
        stats.connections_refused, 0,
        "refused by the kernel, not accepted"
    );
    assert_eq!(stats.closed(CloseCause::Shutdown), 3);
    Ok(())
}
