//! The wire protocol and the semantics of PROTOCOL.md parts 1 and 2, as a
//! client sees them: delivery, fragmentation, order, and what happens to
//! frames nobody can receive.

use std::collections::HashMap;
use std::io;

use router_core::{CloseCause, Config, DropCause};
use router_tests::{Client, Driver, driver_tests, frame, start, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

driver_tests! {
    reference_exchange,
    fragmentation_one_byte_per_write,
    fragmentation_split_at_every_byte,
    fragmentation_many_frames_per_write,
    many_senders_keep_order_and_integrity,
    self_send,
    empty_payload,
    unknown_destination_is_dropped_and_counted,
    eof_after_frames_delivers_every_frame,
    eof_after_half_a_frame_delivers_nothing_of_it,
}

/// An ID no test router hands out: they count up from 0.
const NEVER_ASSIGNED: u32 = 0xDEAD_BEEF;

/// PROTOCOL.md's reference test, verbatim but for the address.
async fn reference_exchange(driver: Driver) -> io::Result<()> {
    let router = start(driver, Config::default())?;
    let addr = router.addr;
    within("reference exchange", async {
        let mut sock1 = TcpStream::connect(addr).await?;
        let mut sock2 = TcpStream::connect(addr).await?;
        let id1 = sock1.read_u32().await?;
        let id2 = sock2.read_u32().await?;

        let mut msg1 = id2.to_be_bytes().to_vec();
        msg1.extend_from_slice(b"hello, number 2\0");
        sock1.write_all(&msg1).await?;
        let mut buf = [0; 16];
        sock2.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"hello, number 2\0");

        let mut msg2 = id1.to_be_bytes().to_vec();
        msg2.extend_from_slice(b"hello back, number 1\0");
        sock2.write_all(&msg2).await?;
        let mut buf = [0; 21];
        sock1.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"hello back, number 1\0");
        Ok::<_, io::Error>(())
    })
    .await??;
    let stats = router.stop().await?;
    assert_eq!(stats.connections_accepted, 2);
    assert_eq!(stats.routed.frames, 2);
    assert_eq!(stats.routed.bytes, 16 + 21);
    assert_eq!(
        stats.bytes_written,
        4 + 4 + 16 + 21,
        "two IDs and two frames"
    );
    assert_eq!(stats.dropped_total().frames, 0);
    Ok(())
}

/// Frames written one byte per `write` are reassembled, header and payload.
async fn fragmentation_one_byte_per_write(driver: Driver) -> io::Result<()> {
    let router = start(driver, Config::default())?;
    let mut sender = Client::connect(router.addr).await?;
    let mut receiver = Client::connect(router.addr).await?;
    sender.stream().set_nodelay(true)?;
    let payloads: [&[u8]; 3] = [b"one byte at a time", b"", b"and a second frame"];
    for payload in payloads {
        for byte in frame(receiver.id, payload) {
            sender.write_raw(&[byte]).await?;
        }
    }
    for payload in payloads {
        receiver.expect_delivery(payload).await?;
    }
    router.stop().await?;
    Ok(())
}

/// A frame cut in two at each of its byte positions, header included, arrives
/// whole every time.
async fn fragmentation_split_at_every_byte(driver: Driver) -> io::Result<()> {
    let router = start(driver, Config::default())?;
    let mut sender = Client::connect(router.addr).await?;
    let mut receiver = Client::connect(router.addr).await?;
    sender.stream().set_nodelay(true)?;
    let payload = b"split me anywhere";
    let bytes = frame(receiver.id, payload);
    for cut in 1..bytes.len() {
        sender.write_raw(&bytes[..cut]).await?;
        sender.write_raw(&bytes[cut..]).await?;
        receiver.expect_delivery(payload).await?;
    }
    router.stop().await?;
    Ok(())
}

/// A thousand frames of varied sizes, to two destinations, in one write:
/// each destination gets its own frames, whole and in order.
async fn fragmentation_many_frames_per_write(driver: Driver) -> io::Result<()> {
    let router = start(driver, Config::default())?;
    let mut sender = Client::connect(router.addr).await?;
    let mut even = Client::connect(router.addr).await?;
    let mut odd = Client::connect(router.addr).await?;
    let payloads: Vec<Vec<u8>> = (0..1000).map(|i| numbered_payload(i, i % 97)).collect();
    let mut burst = Vec::new();
    for (i, payload) in payloads.iter().enumerate() {
        let dest = if i % 2 == 0 { even.id } else { odd.id };
        burst.extend_from_slice(&frame(dest, payload));
    }
    sender.write_raw(&burst).await?;
    for (i, payload) in payloads.iter().enumerate() {
        let receiver = if i % 2 == 0 { &mut even } else { &mut odd };
        receiver.expect_delivery(payload).await?;
    }
    let stats = router.stop().await?;
    assert_eq!(stats.routed.frames, 1000);
    Ok(())
}

/// Eight senders write to one receiver at once, each in chunks of a different
/// size that cut frames anywhere: every frame arrives whole (payloads never
/// interleave), and each sender's frames arrive in the order sent.
async fn many_senders_keep_order_and_integrity(driver: Driver) -> io::Result<()> {
    const SENDERS: usize = 8;
    const FRAMES_EACH: usize = 250;
    let router = start(driver, Config::default())?;
    let mut receiver = Client::connect(router.addr).await?;
    let mut senders = JoinSet::new();
    for sender_index in 0..SENDERS {
        let mut sender = Client::connect(router.addr).await?;
        let dest = receiver.id;
        senders.spawn(async move {
            let mut stream = Vec::new();
            for seq in 0..FRAMES_EACH {
                let payload = tagged_payload(sender_index, seq);
                stream.extend_from_slice(&frame(dest, &payload));
            }
            let chunk = [3, 7, 64, 1500, 4096, 333, 9000, 2][sender_index];
            for piece in stream.chunks(chunk) {
                sender.write_raw(piece).await?;
            }
            Ok::<_, io::Error>(sender)
        });
    }
    let mut next_seq = HashMap::new();
    for _ in 0..SENDERS * FRAMES_EACH {
        let payload = receiver.read_frame().await?;
        let (sender_index, seq) = parse_tagged_payload(&payload);
        let expected = next_seq.entry(sender_index).or_insert(0);
        assert_eq!(
            seq, *expected,
            "sender {sender_index}'s frames arrived out of order"
        );
        *expected += 1;
    }
    // Keep the senders open until everything is delivered.
    while let Some(sender) = within("sender task", senders.join_next()).await? {
        sender.expect("sender task panicked")?;
    }
    let stats = router.stop().await?;
    assert_eq!(stats.routed.frames, (SENDERS * FRAMES_EACH) as u64);
    Ok(())
}

/// A client may send to itself, interleaved with frames to others.
async fn self_send(driver: Driver) -> io::Result<()> {
    let router = start(driver, Config::default())?;
    let mut alice = Client::connect(router.addr).await?;
    let mut bob = Client::connect(router.addr).await?;
    let mut burst = frame(alice.id, b"note to self");
    burst.extend_from_slice(&frame(bob.id, b"for bob"));
    burst.extend_from_slice(&frame(alice.id, b"second note"));
    alice.write_raw(&burst).await?;
    alice.expect_delivery(b"note to self").await?;
    alice.expect_delivery(b"second note").await?;
    bob.expect_delivery(b"for bob").await?;
    router.stop().await?;
    Ok(())
}

/// `dest` then `0x00` is a frame: the destination receives a lone `0x00`.
async fn empty_payload(driver: Driver) -> io::Result<()> {
    let router = start(driver, Config::default())?;
    let mut sender = Client::connect(router.addr).await?;
    let mut receiver = Client::connect(router.addr).await?;
    sender.send(receiver.id, b"").await?;
    sender.send(receiver.id, b"").await?;
    sender.send(receiver.id, b"after two empty ones").await?;
    receiver.expect_delivery(b"").await?;
    receiver.expect_delivery(b"").await?;
    receiver.expect_delivery(b"after two empty ones").await?;
    router.stop().await?;
    Ok(())
}

/// Frames to an ID never assigned, or to a client that has left, are
/// dropped and counted; their sender goes on undisturbed.
async fn unknown_destination_is_dropped_and_counted(driver: Driver) -> io::Result<()> {
    let router = start(driver, Config::default())?;
    let mut sender = Client::connect(router.addr).await?;
    let mut receiver = Client::connect(router.addr).await?;
    let departed = Client::connect(router.addr).await?;
    let departed_id = departed.id;
    departed.disconnect().await?;

    sender.send(NEVER_ASSIGNED, b"to nobody").await?;
    sender.send(receiver.id, b"still connected").await?;
    receiver.expect_delivery(b"still connected").await?;
    sender.send(departed_id, b"too late").await?;
    sender.send(receiver.id, b"and still").await?;
    receiver.expect_delivery(b"and still").await?;

    let stats = router.stop().await?;
    let unknown = stats.dropped(DropCause::UnknownDestination);
    assert_eq!(unknown.frames, 2);
    assert_eq!(
        unknown.bytes,
        (b"to nobody\0".len() + b"too late\0".len()) as u64
    );
    assert_eq!(stats.dropped_total(), unknown);
    Ok(())
}

/// A client that sends frames and closes at once: every complete frame is
/// delivered, then the router closes the sender's connection in turn.
async fn eof_after_frames_delivers_every_frame(driver: Driver) -> io::Result<()> {
    let router = start(driver, Config::default())?;
    let mut sender = Client::connect(router.addr).await?;
    let mut receiver = Client::connect(router.addr).await?;
    let payloads: Vec<Vec<u8>> = (0..100).map(|i| numbered_payload(i, 1000)).collect();
    let mut burst = Vec::new();
    for payload in &payloads {
        burst.extend_from_slice(&frame(receiver.id, payload));
    }
    sender.write_raw(&burst).await?;
    sender.disconnect().await?;
    for payload in &payloads {
        receiver.expect_delivery(payload).await?;
    }
    let stats = router.stop().await?;
    assert_eq!(stats.closed(CloseCause::Eof), 1);
    assert_eq!(stats.routed.frames, 100);
    assert_eq!(stats.dropped_total().frames, 0);
    Ok(())
}

/// A client that closes in the middle of a frame: its complete frames are
/// delivered, nothing of the partial one is, and the loss is counted.
async fn eof_after_half_a_frame_delivers_nothing_of_it(driver: Driver) -> io::Result<()> {
    let router = start(driver, Config::default())?;
    let mut sender = Client::connect(router.addr).await?;
    let mut receiver = Client::connect(router.addr).await?;
    let mut bytes = frame(receiver.id, b"whole");
    let half = frame(receiver.id, b"cut short by EOF");
    bytes.extend_from_slice(&half[..half.len() / 2]);
    sender.write_raw(&bytes).await?;
    sender.disconnect().await?;
    // The sender is gone: anything of its partial frame would be queued to
    // the receiver before this marker.
    receiver.send(receiver.id, b"marker").await?;
    receiver.expect_delivery(b"whole").await?;
    receiver.expect_delivery(b"marker").await?;
    let stats = router.stop().await?;
    assert_eq!(stats.dropped(DropCause::Truncated).frames, 1);
    assert_eq!(stats.closed(CloseCause::Eof), 1);
    Ok(())
}

/// A payload of `filler` bytes that starts with its number, so that a
/// misdelivery shows which frame went astray.
fn numbered_payload(number: usize, filler: usize) -> Vec<u8> {
    let mut payload = format!("#{number}:").into_bytes();
    payload.extend((0..filler).map(|i| b'a' + (i % 26) as u8));
    payload
}

/// `sender:seq:` and a filler whose length and content follow from both, so
/// that any interleaving or truncation breaks [`parse_tagged_payload`].
fn tagged_payload(sender: usize, seq: usize) -> Vec<u8> {
    let mut payload = format!("{sender}:{seq}:").into_bytes();
    let filler = b'A' + ((sender + seq) % 26) as u8;
    payload.resize(payload.len() + (seq * 37 + sender * 11) % 600, filler);
    payload
}

/// The sender and sequence number of a [`tagged_payload`], after checking
/// that the payload is exactly what that sender sent.
fn parse_tagged_payload(payload: &[u8]) -> (usize, usize) {
    let text = String::from_utf8_lossy(payload);
    let mut fields = text.splitn(3, ':');
    let mut number = || fields.next().and_then(|field| field.parse::<usize>().ok());
    let (Some(sender), Some(seq)) = (number(), number()) else {
        panic!("not a whole tagged frame: {text:?}");
    };
    assert_eq!(
        payload,
        tagged_payload(sender, seq),
        "frame {sender}:{seq} arrived damaged or interleaved"
    );
    (sender, seq)
}
