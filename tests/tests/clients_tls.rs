//! The `router-client` crate's clients over TLS (its feature `tls`) against
//! a real router serving TLS on each driver: the exchange and split halves
//! of both clients, two blocking clients flooding each other while both
//! are blocked in writes (the halves of one TLS session must not wait for
//! each other), `try_send` reporting `Full` while paused, mutual TLS, and
//! an untrusted router. The config comes from
//! `router_client::tls::client_config`, from the PEM files each test makes.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use router_client::tls::{self, ServerName, rustls};
use router_client::{Decoder, Error, TrySendError, blocking};
use router_core::{Config, Stats};
use router_tests::{
    Driver, SPLIT_FRAMES, TestRouter, blocking_split_exchange, driver_tests, start_tls,
    tokio_split_exchange, within,
};
use router_tls::test_certs::{Identity, TestPki};
use router_tls::{TlsCounters, TlsLimits};
use tokio::net::TcpSocket;
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, spawn_blocking};

driver_tests! {
    tokio_client_exchanges_and_splits_over_tls,
    blocking_client_exchanges_and_splits_over_tls,
    blocking_halves_over_tls_flood_each_other_without_deadlock,
    blocking_try_send_over_tls_reports_full_while_paused,
    tokio_try_send_over_tls_reports_full_while_paused,
    mutual_tls_admits_a_client_with_the_cas_certificate,
    a_client_that_trusts_another_ca_gets_a_handshake_error,
}

/// The name in the test server certificate.
fn localhost() -> ServerName<'static> {
    ServerName::try_from("localhost").expect("a DNS name")
}

/// A router serving TLS with `pki`'s server certificate; with
/// `client_auth`, only to clients with a certificate from `pki`'s CA.
fn serve(
    pki: &TestPki,
    driver: Driver,
    config: Config,
    client_auth: bool,
    observer: impl FnMut(&Stats) + Send + 'static,
) -> io::Result<TestRouter> {
    let tls = pki.server_config(client_auth, TlsLimits::default());
    let counters = Arc::new(TlsCounters::default());
    start_tls(driver, config, &tls, &counters, observer)
}

/// A client config that trusts `pki`'s CA file and presents `identity`,
/// written to PEM files first, if any.
fn client_config(pki: &TestPki, identity: Option<&Identity>) -> Arc<rustls::ClientConfig> {
    let ca = pki.path("ca.pem");
    let config = match identity {
        None => tls::client_config(&ca, None),
        Some(identity) => {
            let (cert, key) = (pki.path("client.pem"), pki.path("client.key"));
            std::fs::write(&cert, &identity.cert_pem).expect("client.pem written");
            std::fs::write(&key, &identity.key_pem).expect("client.key written");
            tls::client_config(&ca, Some((&cert, &key)))
        }
    };
    config.expect("the test certificates load")
}

/// Runs the blocking client's `work` on a thread of its own, within
/// [`PATIENCE`](router_tests::PATIENCE).
async fn blocking_step<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> io::Result<T> {
    within(what, spawn_blocking(work))
        .await??
        .map_err(io::Error::from)
}

/// Stops `router`: it routed `frames` frames and dropped none.
async fn stop_expecting(router: TestRouter, frames: usize) -> io::Result<()> {
    let stats = router.stop().await?;
    assert_eq!(stats.routed.frames, frames as u64);
    assert_eq!(stats.dropped_total().frames, 0);
    Ok(())
}

/// Connect over TLS, exchange both ways, send both ways at once from split
/// halves, and close in order (`close_notify`, then the router's).
async fn tokio_client_exchanges_and_splits_over_tls(driver: Driver) -> io::Result<()> {
    use router_client::tokio::Client;

    let pki = TestPki::new();
    let router = serve(&pki, driver, Config::default(), false, |_| {})?;
    let config = client_config(&pki, None);
    let connect = || Client::connect_tls(router.addr, localhost(), config.clone());
    let mut alice = within("TLS connect", connect()).await??;
    let mut bob = within("TLS connect", connect()).await??;
    assert_ne!(alice.id(), bob.id());

    alice.send(bob.id(), b"hello over TLS").await?;
    let got = within("delivery", bob.recv()).await??;
    assert_eq!(got.as_deref(), Some(&b"hello over TLS"[..]));

    tokio_split_exchange(alice, bob).await?;
    stop_expecting(router, 1 + 2 * SPLIT_FRAMES).await
}

/// The same as the tokio client's test, with threads.
async fn blocking_client_exchanges_and_splits_over_tls(driver: Driver) -> io::Result<()> {
    let pki = TestPki::new();
    let router = serve(&pki, driver, Config::default(), false, |_| {})?;
    let (addr, config) = (router.addr, client_config(&pki, None));
    blocking_step("blocking exchange", move || {
        let mut alice = blocking::Client::connect_tls(addr, localhost(), config.clone())?;
        let mut bob = blocking::Client::connect_tls(addr, localhost(), config)?;
        assert_ne!(alice.id(), bob.id());
        alice.send(bob.id(), b"hello over TLS")?;
        assert_eq!(bob.recv()?.as_deref(), Some(&b"hello over TLS"[..]));

        blocking_split_exchange(alice, bob)
    })
    .await?;
    stop_expecting(router, 1 + 2 * SPLIT_FRAMES).await
}

/// Bytes of each flooding frame.
const FLOOD_FRAME: usize = 8 << 10;

/// Frame `seq` of a flood: its number, then filler.
fn flood_frame(seq: usize) -> Vec<u8> {
    let mut payload = format!("{seq:08}").into_bytes();
    payload.resize(FLOOD_FRAME, b'f');
    payload
}

/// How many flood frames it takes for a paused sender to block in a write:
/// more than the router's receive buffer for it can take (it grows up to
/// `tcp_rmem`'s maximum, 6 MiB by default), plus what goes before the
/// pause (the destination's queue and the small buffers on its way).
fn frames_past_the_buffers() -> usize {
    let receive_buffer_max = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_rmem")
        .ok()
        .and_then(|text| text.split_whitespace().nth(2)?.parse::<usize>().ok())
        .unwrap_or(6 << 20);
    (receive_buffer_max + (2 << 20)) / FLOOD_FRAME
}

/// A blocking TLS client with small socket buffers, so that what the router
/// sends it while it does not read stays in the router's queue, and what it
/// writes while the router does not read fills its socket soon.
async fn small_buffered_client(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> io::Result<blocking::Client> {
    let socket = TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(16 << 10)?;
    socket.set_send_buffer_size(16 << 10)?;
    let stream = within("connect", socket.connect(addr)).await??.into_std()?;
    stream.set_nonblocking(false)?;
    blocking_step("TLS connect", move || {
        blocking::Client::with_decoder_tls(stream, localhost(), config, Decoder::new())
    })
    .await
}

/// Two blocking clients over TLS flood each other from sender threads,
/// with far more than the socket buffers and the router's small queues
/// hold, and nobody reads until the router has paused both senders and
/// both are blocked in a write it will not read. Only then do the receiver
/// threads start, each decrypting from the TLS session its own sender is
/// blocked writing to. Had a sender held the session across its write
/// (or a lock around the whole stream), each receiver would wait for its
/// sender, and each sender for the other client's receiver: a deadlock,
/// which fails here as a timeout. Every frame arrives, in order, and the
/// close is clean both ways.
async fn blocking_halves_over_tls_flood_each_other_without_deadlock(
    driver: Driver,
) -> io::Result<()> {
    let pki = TestPki::new();
    let (router, pauses) = serve_pausing_soon(&pki, driver)?;
    let config = client_config(&pki, None);
    let alice = small_buffered_client(router.addr, config.clone()).await?;
    let bob = small_buffered_client(router.addr, config).await?;
    let frames = frames_past_the_buffers();
    let (alice_id, bob_id) = (alice.id(), bob.id());
    let (alice_tx, alice_rx) = alice.split();
    let (bob_tx, bob_rx) = bob.split();

    let sent = [Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0))];
    let floods = [
        flood(alice_tx, bob_id, frames, sent[0].clone()),
        flood(bob_tx, alice_id, frames, sent[1].clone()),
    ];
    let stalled = both_blocked(&sent, pauses).await?;
    for (sender, stalled_at) in stalled.iter().enumerate() {
        assert!(
            *stalled_at < frames,
            "flood {sender} ended without ever blocking: it must be larger"
        );
    }
    let drains = [drain(alice_rx, frames), drain(bob_rx, frames)];

    let mut halves = Vec::new();
    for (flood, drain) in floods.into_iter().zip(drains) {
        let sender = within("a flood", flood).await??.map_err(io::Error::from)?;
        let receiver = within("a drain", drain).await??.map_err(io::Error::from)?;
        halves.push((sender, receiver));
    }
    for (sender, mut receiver) in halves {
        blocking_step("close", move || {
            sender.close()?;
            assert_eq!(receiver.recv()?, None, "the router's close_notify");
            Ok(())
        })
        .await?;
    }
    let stats = router.stop().await?;
    assert_eq!(stats.routed.frames, 2 * frames as u64);
    assert_eq!(stats.dropped_total().frames, 0);
    Ok(())
}

/// Waits until the router has paused both senders and neither flood has
/// had a frame taken for a while: with nobody reading, each sender is then
/// blocked in a write for good. Returns how many frames each had sent.
///
/// No event marks a thread blocked in a system call, so this watches the
/// floods' counters; a busy machine can only make it start the receivers
/// early, which weakens the test but never fails a correct client.
async fn both_blocked(
    sent: &[Arc<AtomicUsize>; 2],
    mut pauses: watch::Receiver<u64>,
) -> io::Result<[usize; 2]> {
    const POLL: Duration = Duration::from_millis(25);
    const STILL_POLLS: u32 = 20;
    within(
        "both senders' pause",
        pauses.wait_for(|&paused| paused >= 2),
    )
    .await?
    .map_err(|_| io::Error::other("the router stopped"))?;
    within("both senders blocked", async {
        let mut last = [usize::MAX; 2];
        let mut still = 0;
        while still < STILL_POLLS {
            tokio::time::sleep(POLL).await;
            let now = [0, 1].map(|sender| sent[sender].load(Ordering::Relaxed));
            still = if now == last { still + 1 } else { 0 };
            last = now;
        }
        last
    })
    .await
}

/// Sends `frames` flood frames to `dest` on a thread, counting them in
/// `sent`; the sender back.
fn flood(
    mut sender: blocking::Sender,
    dest: u32,
    frames: usize,
    sent: Arc<AtomicUsize>,
) -> JoinHandle<Result<blocking::Sender, Error>> {
    spawn_blocking(move || {
        for seq in 0..frames {
            sender.send(dest, &flood_frame(seq))?;
            sent.store(seq + 1, Ordering::Relaxed);
        }
        Ok(sender)
    })
}

/// The blocking client's `try_send` over TLS to a destination that does
/// not read: `Full` once the router has paused the sender and its socket
/// is full; `send` then blocks until the destination reads, and every
/// frame `try_send` accepted arrives, in order. (A `Full` before the pause
/// only means the router had not read yet: `send` waits that one out.)
async fn blocking_try_send_over_tls_reports_full_while_paused(driver: Driver) -> io::Result<()> {
    let pki = TestPki::new();
    let (router, pauses) = serve_pausing_soon(&pki, driver)?;
    let config = client_config(&pki, None);
    let receiver = small_buffered_client(router.addr, config.clone()).await?;
    let (addr, to) = (router.addr, receiver.id());
    let (flooded, accepted) = oneshot::channel();
    let sending = spawn_blocking(move || -> Result<(), Error> {
        let mut sender = blocking::Client::connect_tls(addr, localhost(), config)?;
        let count = try_send_until_paused(&mut sender, to, &pauses)?;
        let _ = flooded.send(count);
        sender.send(to, b"last")?;
        sender.close()
    });
    let accepted = within("Full from try_send", accepted)
        .await?
        .map_err(|_| io::Error::other("the sending thread failed before Full"))?;
    drain_then_last(receiver, accepted).await?;
    within("the sending thread", sending)
        .await??
        .map_err(io::Error::from)?;
    stop_after_a_pause(router).await
}

/// As the blocking client's test, for the tokio client, whose `try_send`
/// over TLS polls tokio-rustls once with a waker that does nothing.
async fn tokio_try_send_over_tls_reports_full_while_paused(driver: Driver) -> io::Result<()> {
    let pki = TestPki::new();
    let (router, pauses) = serve_pausing_soon(&pki, driver)?;
    let config = client_config(&pki, None);
    let receiver = small_buffered_client(router.addr, config.clone()).await?;
    let to = receiver.id();
    let connect = router_client::tokio::Client::connect_tls(router.addr, localhost(), config);
    let mut sender = within("TLS connect", connect).await??;
    let limit = 4 * frames_past_the_buffers();
    let mut accepted = None;
    for seq in 0..limit {
        let frame = flood_frame(seq);
        match sender.try_send(to, &frame) {
            Ok(()) => {}
            Err(TrySendError::Full) if *pauses.borrow() >= 1 => {
                accepted = Some(seq);
                break;
            }
            Err(TrySendError::Full) => within("a send", sender.send(to, &frame)).await??,
            Err(TrySendError::Failed(error)) => return Err(error.into()),
        }
    }
    let accepted = accepted
        .unwrap_or_else(|| panic!("try_send took {limit} frames to a paused sender without Full"));
    let waiting = tokio::spawn(async move {
        sender.send(to, b"last").await?;
        sender.close().await
    });
    drain_then_last(receiver, accepted).await?;
    within("the waiting send", waiting)
        .await??
        .map_err(io::Error::from)?;
    stop_after_a_pause(router).await
}

/// Reads `accepted` flood frames, then `last`, with `receiver`.
async fn drain_then_last(receiver: blocking::Client, accepted: usize) -> io::Result<()> {
    let (_, receiver) = receiver.split();
    let mut receiver = within("the drain", drain(receiver, accepted))
        .await??
        .map_err(io::Error::from)?;
    blocking_step("the last frame", move || {
        assert_eq!(receiver.recv()?.as_deref(), Some(&b"last"[..]));
        Ok(())
    })
    .await
}

/// Stops `router`: it paused a sender and dropped nothing.
async fn stop_after_a_pause(router: TestRouter) -> io::Result<()> {
    let stats = router.stop().await?;
    assert!(stats.sender_pauses >= 1, "the router never paused a sender");
    assert_eq!(stats.dropped_total().frames, 0);
    Ok(())
}

/// Sends flood frames to `to` with `try_send` until it reports `Full` while
/// `pauses` says the router has paused a sender; how many were sent.
fn try_send_until_paused(
    sender: &mut blocking::Client,
    to: u32,
    pauses: &watch::Receiver<u64>,
) -> Result<usize, Error> {
    let limit = 4 * frames_past_the_buffers();
    for seq in 0..limit {
        let frame = flood_frame(seq);
        match sender.try_send(to, &frame) {
            Ok(()) => {}
            Err(TrySendError::Full) if *pauses.borrow() >= 1 => return Ok(seq),
            Err(TrySendError::Full) => sender.send(to, &frame)?,
            Err(TrySendError::Failed(error)) => return Err(error),
        }
    }
    panic!("try_send took {limit} frames to a paused sender without reporting Full")
}

/// A router serving TLS with destination queues small enough that their
/// senders are paused soon, and the count of pauses so far.
fn serve_pausing_soon(
    pki: &TestPki,
    driver: Driver,
) -> io::Result<(TestRouter, watch::Receiver<u64>)> {
    let small_queues = Config {
        outbound_high_water: 64 << 10,
        outbound_low_water: 16 << 10,
        ..Config::default()
    };
    let (pauses_tx, pauses) = watch::channel(0);
    let router = serve(pki, driver, small_queues, false, move |stats| {
        pauses_tx.send_replace(stats.sender_pauses);
    })?;
    Ok((router, pauses))
}

/// Receives `frames` flood frames on a thread, checking each; the receiver
/// back.
fn drain(
    mut receiver: blocking::Receiver,
    frames: usize,
) -> JoinHandle<Result<blocking::Receiver, Error>> {
    spawn_blocking(move || {
        for seq in 0..frames {
            let payload = receiver.recv()?;
            assert!(
                payload == Some(flood_frame(seq)),
                "flood frame {seq} is wrong"
            );
        }
        Ok(receiver)
    })
}

/// With `--tls-client-ca`, both clients are served when they present a
/// certificate from the CA, and refused with a TLS error when they
/// present none.
async fn mutual_tls_admits_a_client_with_the_cas_certificate(driver: Driver) -> io::Result<()> {
    let pki = TestPki::new();
    let router = serve(&pki, driver, Config::default(), true, |_| {})?;
    let addr = router.addr;
    let trusted = client_config(&pki, Some(&pki.issue("a client")));
    let anonymous = client_config(&pki, None);

    let connect = router_client::tokio::Client::connect_tls(addr, localhost(), trusted.clone());
    let mut client = within("TLS connect", connect).await??;
    client.send(client.id(), b"mine").await?;
    assert_eq!(
        within("delivery", client.recv()).await??,
        Some(b"mine".to_vec())
    );
    within("close", client.close()).await??;

    blocking_step("blocking client", move || {
        let mut client = blocking::Client::connect_tls(addr, localhost(), trusted)?;
        client.send(client.id(), b"mine too")?;
        assert_eq!(client.recv()?, Some(b"mine too".to_vec()));
        client.close()
    })
    .await?;

    let connect = router_client::tokio::Client::connect_tls(addr, localhost(), anonymous.clone());
    expect_tls_error(within("refusal", connect).await?.map(drop), "Certificate");
    let refused = within(
        "refusal",
        spawn_blocking(move || blocking::Client::connect_tls(addr, localhost(), anonymous)),
    )
    .await??;
    expect_tls_error(refused.map(drop), "Certificate");
    stop_expecting(router, 2).await
}

/// A client whose roots do not include the CA that issued the router's
/// certificate fails the handshake with a TLS error that says so.
async fn a_client_that_trusts_another_ca_gets_a_handshake_error(driver: Driver) -> io::Result<()> {
    let pki = TestPki::new();
    let router = serve(&pki, driver, Config::default(), false, |_| {})?;
    let addr = router.addr;
    let stranger = client_config(&TestPki::new(), None);

    let connect = router_client::tokio::Client::connect_tls(addr, localhost(), stranger.clone());
    expect_tls_error(
        within("refusal", connect).await?.map(drop),
        "invalid peer certificate",
    );
    let refused = within(
        "refusal",
        spawn_blocking(move || blocking::Client::connect_tls(addr, localhost(), stranger)),
    )
    .await??;
    expect_tls_error(refused.map(drop), "invalid peer certificate");
    let stats = router.stop().await?;
    assert_eq!(stats.connections_accepted, 0);
    Ok(())
}

/// Checks that `result` is [`Error::Tls`] and that its message mentions
/// `words`.
fn expect_tls_error(result: Result<(), Error>, words: &str) {
    match result {
        Err(error @ Error::Tls(_)) => {
            let message = error.to_string();
            assert!(message.contains(words), "{message}");
        }
        other => panic!("expected a TLS error about {words:?}, got {other:?}"),
    }
}
