//! The `router-client` crate's two clients, blocking and tokio, against a real
//! router on each driver: the exchange, concurrent halves, refused payloads,
//! backpressure (`try_send` reports `Full` while the router pauses the
//! sender, and nothing accepted is lost), and a refused connection.

use std::io;
use std::net::SocketAddr;

use router_client::{DecodeError, Error, PayloadError, TrySendError, blocking};
use router_core::Config;
use router_tests::{
    Driver, SPLIT_FRAMES, TestRouter, blocking_split_exchange, driver_tests, start,
    tokio_split_exchange, within,
};
use tokio::net::TcpSocket;

driver_tests! {
    tokio_client_exchanges_and_splits,
    blocking_client_exchanges_and_splits,
    tokio_try_send_reports_full_while_the_sender_is_paused,
    blocking_try_send_reports_full_while_the_sender_is_paused,
    a_connection_without_an_id_is_a_clear_error,
}

/// Checks that a send was refused for a `0x00` at `offset`.
fn expect_refused(sent: Result<(), Error>, offset: usize) {
    assert!(
        matches!(
            sent,
            Err(Error::Payload(PayloadError::ContainsTerminator { offset: at })) if at == offset
        ),
        "{sent:?}"
    );
}

/// Connect, exchange, refuse a payload with `0x00` (and go on), then send
/// both ways at once from split halves, and close in order.
async fn tokio_client_exchanges_and_splits(driver: Driver) -> io::Result<()> {
    use router_client::tokio::Client;

    let router = start(driver, Config::default())?;
    let mut alice = within("connect", Client::connect(router.addr)).await??;
    let mut bob = within("connect", Client::connect(router.addr)).await??;
    assert_ne!(alice.id(), bob.id());

    alice.send(bob.id(), b"hello, bob").await?;
    let got = within("delivery", bob.recv()).await??;
    assert_eq!(got.as_deref(), Some(&b"hello, bob"[..]));
    bob.send(alice.id(), b"").await?;
    assert_eq!(within("delivery", alice.recv()).await??, Some(Vec::new()));

    expect_refused(alice.send(bob.id(), b"bad\0payload").await, 3);
    alice.send(bob.id(), b"still fine").await?;
    let got = within("delivery", bob.recv()).await??;
    assert_eq!(
        got.as_deref(),
        Some(&b"still fine"[..]),
        "nothing of the refused frame was sent"
    );

    tokio_split_exchange(alice, bob).await?;

    let stats = router.stop().await?;
    assert_eq!(stats.routed.frames, 3 + 2 * SPLIT_FRAMES as u64);
    assert_eq!(stats.dropped_total().frames, 0);
    Ok(())
}

/// The same as the tokio client's test, with threads.
async fn blocking_client_exchanges_and_splits(driver: Driver) -> io::Result<()> {
    let router = start(driver, Config::default())?;
    let addr = router.addr;
    let exchange = tokio::task::spawn_blocking(move || -> Result<(), Error> {
        let mut alice = blocking::Client::connect(addr)?;
        let mut bob = blocking::Client::connect(addr)?;
        assert_ne!(alice.id(), bob.id());

        alice.send(bob.id(), b"hello, bob")?;
        assert_eq!(bob.recv()?.as_deref(), Some(&b"hello, bob"[..]));
        bob.send(alice.id(), b"")?;
        assert_eq!(alice.recv()?, Some(Vec::new()));

        expect_refused(alice.send(bob.id(), b"\0"), 0);
        alice.send(bob.id(), b"still fine")?;
        assert_eq!(bob.recv()?.as_deref(), Some(&b"still fine"[..]));

        blocking_split_exchange(alice, bob)
    });
    within("blocking exchange", exchange)
        .await?
        .map_err(io::Error::other)??;

    let stats = router.stop().await?;
    assert_eq!(stats.routed.frames, 3 + 2 * SPLIT_FRAMES as u64);
    assert_eq!(stats.dropped_total().frames, 0);
    Ok(())
}

/// A destination queue small enough that its sender is paused soon.
fn small_queues() -> Config {
    Config {
        outbound_high_water: 64 << 10,
        outbound_low_water: 16 << 10,
        ..Config::default()
    }
}

/// Bytes of each flooding frame.
const FLOOD_FRAME: usize = 8 << 10;
/// Far more than the socket buffers and the queue hold: a sender that is
/// never told `Full` within it fails the test.
const FLOOD_LIMIT: usize = (64 << 20) / FLOOD_FRAME;

/// Frame `seq` of a flood: its number, then filler.
fn flood_frame(seq: usize) -> Vec<u8> {
    let mut payload = format!("{seq:08}").into_bytes();
    payload.resize(FLOOD_FRAME, b'f');
    payload
}

/// Calls `try_send` with flood frames until it reports `Full`; how many it
/// accepted.
fn flood_until_full(
    mut try_send: impl FnMut(&[u8]) -> Result<(), TrySendError>,
) -> io::Result<usize> {
    for seq in 0..FLOOD_LIMIT {
        match try_send(&flood_frame(seq)) {
            Ok(()) => {}
            Err(TrySendError::Full) => return Ok(seq),
            Err(TrySendError::Failed(error)) => return Err(error.into()),
        }
    }
    Err(io::Error::other(format!(
        "try_send took {FLOOD_LIMIT} frames to a non-reader without reporting Full"
    )))
}

/// A client with a small receive buffer, so that what the router sends it
/// while it does not read stays queued in the router, which then pauses its
/// senders soon, rather than in the kernel.
async fn slow_receiver(addr: SocketAddr) -> io::Result<router_client::tokio::Client> {
    let socket = TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(16 << 10)?;
    let stream = within("connect", socket.connect(addr)).await??;
    Ok(router_client::tokio::Client::from_stream(stream).await?)
}

/// Stops `router` and checks that it paused a sender and dropped nothing.
async fn stop_expecting_a_pause_and_no_loss(router: TestRouter) -> io::Result<()> {
    let stats = router.stop().await?;
    assert!(
        stats.sender_pauses >= 1,
        "the router never paused the sender"
    );
    assert_eq!(stats.dropped_total().frames, 0);
    Ok(())
}

/// A receiver that had not read: reads `accepted` flood frames, then
/// `last`, checking each.
async fn drain_flood(
    receiver: &mut router_client::tokio::Client,
    accepted: usize,
    last: &[u8],
) -> io::Result<()> {
    for seq in 0..accepted {
        let payload = within("flood frame", receiver.recv()).await??;
        assert!(
            payload == Some(flood_frame(seq)),
            "flood frame {seq} is wrong"
        );
    }
    let payload = within("last frame", receiver.recv()).await??;
    assert_eq!(payload.as_deref(), Some(last));
    Ok(())
}

/// The tokio client's `try_send` to a destination that does not read: it is
/// refused with `Full` once the router pauses the sender; `send` then waits,
/// and completes once the destination reads, with every accepted frame
/// delivered in order.
async fn tokio_try_send_reports_full_while_the_sender_is_paused(driver: Driver) -> io::Result<()> {
    use router_client::tokio::Client;

    let router = start(driver, small_queues())?;
    let mut receiver = slow_receiver(router.addr).await?;
    let mut sender = within("connect", Client::connect(router.addr)).await??;
    let to = receiver.id();

    let accepted = flood_until_full(|payload| sender.try_send(to, payload))?;
    let waiting = tokio::spawn(async move {
        sender.send(to, b"last").await?;
        Ok::<_, Error>(sender)
    });
    drain_flood(&mut receiver, accepted, b"last").await?;
    let sender = within("the waiting send", waiting).await??;
    sender?.close().await?;

    stop_expecting_a_pause_and_no_loss(router).await
}

/// As the tokio client's test, with the blocking client sending from a thread.
async fn blocking_try_send_reports_full_while_the_sender_is_paused(
    driver: Driver,
) -> io::Result<()> {
    let router = start(driver, small_queues())?;
    let addr = router.addr;
    let mut receiver = slow_receiver(addr).await?;
    let to = receiver.id();

    let (flooded, accepted) = tokio::sync::oneshot::channel();
    let sending = tokio::task::spawn_blocking(move || -> io::Result<()> {
        let mut sender = blocking::Client::connect(addr)?;
        let count = flood_until_full(|payload| sender.try_send(to, payload))?;
        let _ = flooded.send(count);
        sender.send(to, b"last")?;
        sender.close()?;
        Ok(())
    });
    let accepted = within("the flood", accepted)
        .await?
        .map_err(|_| io::Error::other("the sending thread failed before it was paused"))?;
    drain_flood(&mut receiver, accepted, b"last").await?;
    within("the sending thread", sending)
        .await?
        .map_err(io::Error::other)??;

    stop_expecting_a_pause_and_no_loss(router).await
}

/// A router at its connection limit closes a new connection without an ID:
/// both clients say so, rather than hang or report a bare EOF.
async fn a_connection_without_an_id_is_a_clear_error(driver: Driver) -> io::Result<()> {
    // One connection per shard: each shard's share of the limit is one.
    let router = start(
        driver,
        Config {
            max_connections: driver.shards,
            ..Config::default()
        },
    )?;
    let addr = router.addr;
    let mut _every_slot = Vec::new();
    for _ in 0..driver.shards {
        _every_slot.push(within("connect", router_client::tokio::Client::connect(addr)).await??);
    }

    let refused = within("refusal", router_client::tokio::Client::connect(addr)).await?;
    assert!(
        matches!(refused, Err(Error::Decode(DecodeError::NoId))),
        "{refused:?}"
    );
    let refused = within(
        "refusal",
        tokio::task::spawn_blocking(move || blocking::Client::connect(addr)),
    )
    .await??;
    assert!(
        matches!(refused, Err(Error::Decode(DecodeError::NoId))),
        "{refused:?}"
    );
    let message = refused.unwrap_err().to_string();
    assert!(message.contains("connection limit"), "{message}");
    Ok(())
}
