//! TLS on every driver: the protocol over TLS (the reference exchange,
//! order and integrity, backpressure), mutual TLS, and handshakes that
//! stall or are not TLS at all. Certificates are made by each test.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use router_core::Config;
use router_tests::{Driver, RouterProcess, TlsClient, driver_tests, frame, start_tls, within};
use router_tls::test_certs::TestPki;
use router_tls::{HandshakeFailure, TlsConfig, TlsCounters, TlsLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinSet;

driver_tests! {
    reference_exchange_over_tls,
    many_senders_keep_order_and_integrity_over_tls,
    a_paused_sender_over_tls_loses_nothing,
    mutual_tls_admits_only_the_cas_clients,
    a_stalled_handshake_is_closed_on_time,
    garbage_instead_of_a_client_hello_is_refused_and_counted,
    the_binary_serves_mutual_tls_from_its_flags,
}

/// TLS settings for `pki`'s server certificate, and the counters every
/// shard's layer counts into.
fn tls(pki: &TestPki, client_auth: bool, limits: TlsLimits) -> (TlsConfig, Arc<TlsCounters>) {
    let counters = Arc::new(TlsCounters::default());
    (pki.server_config(client_auth, limits), counters)
}

/// PROTOCOL.md's reference exchange, over TLS; the IDs come after the
/// handshakes, and the router counts exactly the plaintext. With shards,
/// the two clients are on different ones, each with its own TLS layer.
async fn reference_exchange_over_tls(driver: Driver) -> io::Result<()> {
    let pki = TestPki::new();
    let (tls, counters) = tls(&pki, false, TlsLimits::default());
    let router = start_tls(driver, Config::default(), &tls, &counters, |_| {})?;
    let client = pki.client_config(None);
    let mut one = TlsClient::connect_tls(router.addr, client.clone(), None).await?;
    let mut two = TlsClient::connect_tls(router.addr, client, None).await?;
    if driver.shards > 1 {
        // Placement alternates shards: the exchange crosses them, and the
        // counters below are the two shards' TLS layers' sum.
        assert_ne!(driver.shard_of(one.id), driver.shard_of(two.id));
    }
    one.send(two.id, b"hello, number 2").await?;
    two.expect_delivery(b"hello, number 2").await?;
    two.send(one.id, b"hello back, number 1").await?;
    one.expect_delivery(b"hello back, number 1").await?;
    one.disconnect().await?;
    two.disconnect().await?;
    let stats = router.stop().await?;
    assert_eq!(stats.connections_accepted, 2);
    assert_eq!(stats.routed.frames, 2);
    assert_eq!(
        stats.bytes_written,
        4 + 4 + 16 + 21,
        "two IDs and two frames"
    );
    assert_eq!(counters.completed(), 2);
    Ok(())
}

/// Eight senders over TLS write to one receiver at once, in chunks that cut
/// frames anywhere: every frame arrives whole and in its sender's order.
async fn many_senders_keep_order_and_integrity_over_tls(driver: Driver) -> io::Result<()> {
    const SENDERS: usize = 8;
    const FRAMES_EACH: usize = 250;
    let pki = TestPki::new();
    let (tls, counters) = tls(&pki, false, TlsLimits::default());
    let router = start_tls(driver, Config::default(), &tls, &counters, |_| {})?;
    let client = pki.client_config(None);
    let mut receiver = TlsClient::connect_tls(router.addr, client.clone(), None).await?;
    let mut senders = JoinSet::new();
    for index in 0..SENDERS {
        let mut sender = TlsClient::connect_tls(router.addr, client.clone(), None).await?;
        let dest = receiver.id;
        senders.spawn(async move {
            let mut bytes = Vec::new();
            for seq in 0..FRAMES_EACH {
                bytes.extend_from_slice(&frame(dest, format!("{index}:{seq}").as_bytes()));
            }
            let chunk = [3, 7, 64, 1500, 4096, 333, 9000, 2][index];
            for piece in bytes.chunks(chunk) {
                sender.write_raw(piece).await?;
            }
            Ok::<_, io::Error>(sender)
        });
    }
    let mut next_seq = HashMap::new();
    for _ in 0..SENDERS * FRAMES_EACH {
        let payload = String::from_utf8(receiver.read_frame().await?).expect("text");
        let (index, seq) = payload.split_once(':').expect("index:seq");
        let expected = next_seq.entry(index.to_owned()).or_insert(0);
        assert_eq!(
            seq.parse::<usize>().unwrap(),
            *expected,
            "sender {index} out of order"
        );
        *expected += 1;
    }
    while let Some(sender) = within("sender task", senders.join_next()).await? {
        sender.expect("sender task panicked")?;
    }
    let stats = router.stop().await?;
    assert_eq!(stats.routed.frames, (SENDERS * FRAMES_EACH) as u64);
    Ok(())
}

/// A sender over TLS floods a receiver that does not read: the router
/// pauses the sender (the TLS records wait in the kernel, not in memory),
/// and once the receiver reads, every frame arrives, in order.
async fn a_paused_sender_over_tls_loses_nothing(driver: Driver) -> io::Result<()> {
    let frames = frames_past_the_kernel();
    let pki = TestPki::new();
    let (tls, counters) = tls(&pki, false, TlsLimits::default());
    // Small queues, and with shards a small window between them, so that
    // the pause comes after little work: on a busy machine, pushing the
    // default 1 MiB window through debug-built rustls twice took longer
    // than the test's patience.
    let config = Config {
        outbound_high_water: 64 << 10,
        outbound_low_water: 16 << 10,
        ..Config::default()
    };
    let (paused_tx, mut paused) = watch::channel(0);
    let router = start_tls(driver, config, &tls, &counters, move |stats| {
        paused_tx.send_replace(stats.sender_pauses);
    })?;
    let client = pki.client_config(None);
    let mut receiver = TlsClient::connect_tls(router.addr, client.clone(), Some(16 << 10)).await?;
    let mut sender = TlsClient::connect_tls(router.addr, client, None).await?;
    let dest = receiver.id;
    let flood = tokio::spawn(async move {
        for seq in 0..frames {
            sender.send(dest, &flood_payload(seq)).await?;
        }
        Ok::<_, io::Error>(sender)
    });
    within("the sender's pause", paused.wait_for(|&pauses| pauses >= 1))
        .await?
        .expect("the router is running");
    for seq in 0..frames {
        let payload = receiver.read_frame().await?;
        assert!(payload == flood_payload(seq), "flood frame {seq} is wrong");
    }
    within("the flood", flood).await?.expect("flood task")?;
    let stats = router.stop().await?;
    assert!(stats.sender_pauses >= 1);
    assert_eq!(stats.dropped_total().frames, 0);
    Ok(())
}

/// How many 1 KiB frames the flood needs so that the router must pause
/// its sender: more than the kernel lets the router write to a receiver
/// that does not read (its send buffer grows up to `tcp_wmem`'s maximum, 4
/// MiB by default), plus the receiver's queue and one window between
/// shards. With fewer, the kernel may take the whole flood and no pause
/// ever comes.
fn frames_past_the_kernel() -> usize {
    let send_buffer_max = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|text| text.split_whitespace().nth(2)?.parse::<usize>().ok())
        .unwrap_or(4 << 20);
    (send_buffer_max + (2 << 20)) / 1024
}

/// A 1 KiB payload that names its sequence number.
fn flood_payload(seq: usize) -> Vec<u8> {
    let mut payload = format!("{seq:08}").into_bytes();
    payload.resize(1024, b'f');
    payload
}

/// With `--tls-client-ca`, a client with a certificate from the CA gets an
/// ID; one without a certificate, or with another CA's, gets none, and each
/// refusal is counted `certificate`.
async fn mutual_tls_admits_only_the_cas_clients(driver: Driver) -> io::Result<()> {
    let pki = TestPki::new();
    let (tls, counters) = tls(&pki, true, TlsLimits::default());
    let router = start_tls(driver, Config::default(), &tls, &counters, |_| {})?;
    let trusted = pki.client_config(Some(&pki.issue("trusted client")));
    let mut admitted = TlsClient::connect_tls(router.addr, trusted, None).await?;
    admitted.send(admitted.id, b"mine").await?;
    admitted.expect_delivery(b"mine").await?;

    let anonymous = TlsClient::connect_tls(router.addr, pki.client_config(None), None).await;
    assert!(
        anonymous.is_err(),
        "a client without a certificate got an ID"
    );
    let other_ca = TestPki::new();
    let stranger = pki.client_config(Some(&other_ca.issue("stranger")));
    let foreign = TlsClient::connect_tls(router.addr, stranger, None).await;
    assert!(foreign.is_err(), "another CA's client got an ID");

    let stats = router.stop().await?;
    assert_eq!(stats.connections_accepted, 1, "only the CA's client");
    assert_eq!(counters.failed(HandshakeFailure::Certificate), 2);
    assert_eq!(counters.completed(), 1);
    Ok(())
}

/// A client that connects and never says hello is closed once
/// `handshake_timeout` has passed, not before, and never gets an ID.
async fn a_stalled_handshake_is_closed_on_time(driver: Driver) -> io::Result<()> {
    let timeout = Duration::from_millis(300);
    let pki = TestPki::new();
    let limits = TlsLimits {
        handshake_timeout: timeout,
        ..TlsLimits::default()
    };
    let (tls, counters) = tls(&pki, false, limits);
    let router = start_tls(driver, Config::default(), &tls, &counters, |_| {})?;
    let started = Instant::now();
    let mut stalled = within("connection", TcpStream::connect(router.addr)).await??;
    let mut rest = Vec::new();
    let closed = within(
        "close of the stalled client",
        stalled.read_to_end(&mut rest),
    )
    .await?;
    let waited = started.elapsed();
    assert!(closed.is_ok() || closed.is_err_and(|e| router_tests::is_reset(&e)));
    assert!(rest.is_empty(), "the router sent {} bytes", rest.len());
    assert!(
        waited >= timeout,
        "closed after {waited:?}, before {timeout:?}"
    );
    assert!(
        waited < timeout + Duration::from_secs(5),
        "closed only after {waited:?}"
    );
    let stats = router.stop().await?;
    assert_eq!(stats.connections_accepted, 0);
    assert_eq!(counters.failed(HandshakeFailure::Timeout), 1);
    Ok(())
}

/// A client that speaks plain HTTP to the TLS port gets an alert at most,
/// then the close, and the failure is counted `protocol`.
async fn garbage_instead_of_a_client_hello_is_refused_and_counted(
    driver: Driver,
) -> io::Result<()> {
    let pki = TestPki::new();
    let (tls, counters) = tls(&pki, false, TlsLimits::default());
    let router = start_tls(driver, Config::default(), &tls, &counters, |_| {})?;
    let mut plain = within("connection", TcpStream::connect(router.addr)).await??;
    plain
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await?;
    let mut answer = Vec::new();
    let closed = within("close of the plain client", plain.read_to_end(&mut answer)).await?;
    assert!(closed.is_ok() || closed.is_err_and(|e| router_tests::is_reset(&e)));
    assert!(
        answer.len() < 16,
        "more than an alert: {} bytes",
        answer.len()
    );
    let stats = router.stop().await?;
    assert_eq!(stats.connections_accepted, 0);
    assert_eq!(counters.failed(HandshakeFailure::Protocol), 1);
    Ok(())
}

/// `router --tls-cert --tls-key --tls-client-ca`, as an operator runs it:
/// a client with the CA's certificate is served, one without gets no ID,
/// and the router still drains and exits 0.
async fn the_binary_serves_mutual_tls_from_its_flags(driver: Driver) -> io::Result<()> {
    let pki = TestPki::new();
    let path = |name| pki.path(name).display().to_string();
    let (cert, key, ca) = (path("server.pem"), path("server.key"), path("ca.pem"));
    let router = RouterProcess::spawn(
        driver,
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls-client-ca",
            &ca,
        ],
    )
    .await?;
    let trusted = pki.client_config(Some(&pki.issue("operator's client")));
    let mut client = TlsClient::connect_tls(router.addr, trusted, None).await?;
    client.send(client.id, b"over TLS").await?;
    client.expect_delivery(b"over TLS").await?;
    let anonymous = TlsClient::connect_tls(router.addr, pki.client_config(None), None).await;
    assert!(
        anonymous.is_err(),
        "a client without a certificate got an ID"
    );
    router.terminate()?;
    client.expect_closed().await?;
    router.expect_clean_exit().await
}
