//! Routing: what a destination receives for what its senders wrote, however
//! the bytes were cut and however many senders there are.

use router_core::{Config, ConnHandle, DropCause, FrameCount};

use crate::support::{Net, frame, payload, payloads};

#[test]
fn reference_exchange_of_the_protocol() {
    let mut net = Net::new(Config::default());
    let sock1 = net.accept().unwrap();
    let sock2 = net.accept().unwrap();
    let id1 = u32::from_be_bytes(net.take_received(sock1).try_into().unwrap());
    let id2 = u32::from_be_bytes(net.take_received(sock2).try_into().unwrap());

    let mut msg1 = id2.to_be_bytes().to_vec();
    msg1.extend_from_slice(b"hello, number 2\0");
    net.input(sock1, &msg1);
    assert_eq!(net.take_received(sock2), b"hello, number 2\0");

    let mut msg2 = id1.to_be_bytes().to_vec();
    msg2.extend_from_slice(b"hello back, number 1\0");
    net.input(sock2, &msg2);
    assert_eq!(net.take_received(sock1), b"hello back, number 1\0");
}

#[test]
fn frame_fed_one_byte_per_read_is_delivered_whole_on_its_terminator() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let receiver = net.connect();
    let bytes = frame(receiver, b"one byte at a time");
    let (last, head) = bytes.split_last().unwrap();
    for byte in head {
        net.input(sender, std::slice::from_ref(byte));
        assert_eq!(net.received(receiver), b"", "nothing before the terminator");
    }
    net.input(sender, &[*last]);
    assert_eq!(net.take_received(receiver), b"one byte at a time\0");
}

#[test]
fn many_frames_in_one_read_are_all_delivered_in_order() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let receiver = net.connect();
    let sent: Vec<Vec<u8>> = (0..500)
        .map(|i| payload(&format!("#{i}:"), i % 40 + 6))
        .collect();
    let read: Vec<u8> = sent.iter().flat_map(|p| frame(receiver, p)).collect();
    net.input(sender, &read);
    assert_eq!(payloads(&net.take_received(receiver)), sent);
}

#[test]
fn frames_cut_at_every_point_including_inside_the_header_arrive_intact() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let receiver = net.connect();
    let two_frames = [frame(receiver, b"first"), frame(receiver, b"second")].concat();
    for cut in 0..=two_frames.len() {
        net.input(sender, &two_frames[..cut]);
        net.input(sender, &two_frames[cut..]);
        assert_eq!(
            net.take_received(receiver),
            b"first\0second\0",
            "cut at byte {cut}"
        );
    }
}

#[test]
fn destination_whose_id_is_all_zero_bytes_is_routed() {
    // ID 0 makes a header of four 0x00 bytes, none of them a terminator.
    let mut net = Net::new(Config::default());
    let zero = net.connect();
    let sender = net.connect();
    assert_eq!(zero.id(), 0);
    for byte in frame(zero, b"to zero") {
        net.input(sender, &[byte]);
    }
    assert_eq!(net.take_received(zero), b"to zero\0");
}

#[test]
fn empty_payload_delivers_just_the_terminator() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let receiver = net.connect();
    net.send(sender, receiver, b"");
    assert_eq!(net.take_received(receiver), [0]);
    assert_eq!(
        net.router.stats().routed,
        FrameCount {
            frames: 1,
            bytes: 1
        }
    );
}

#[test]
fn self_send_is_delivered_like_any_frame() {
    let mut net = Net::new(Config::default());
    let client = net.connect();
    net.send(client, client, b"note to self");
    assert_eq!(net.take_received(client), b"note to self\0");
}

#[test]
fn unknown_destination_is_dropped_and_counted_and_the_sender_goes_on() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let receiver = net.connect();
    let gone = net.connect();
    net.reset(gone);
    let read = [
        frame(ConnHandle(9_999), b"never assigned"),
        frame(gone, b"closed"),
        frame(receiver, b"fine"),
    ]
    .concat();
    let events = net.input(sender, &read);
    assert_eq!(events, [], "no pause, no close");
    assert_eq!(net.take_received(receiver), b"fine\0");
    assert_eq!(
        net.router.stats().dropped(DropCause::UnknownDestination),
        FrameCount {
            frames: 2,
            bytes: 15 + 7
        }
    );
    assert!(net.router.wants_read(sender));
    net.send(sender, receiver, b"still fine");
    assert_eq!(net.take_received(receiver), b"still fine\0");
}

/// Sender `s`'s `n`th frame: its origin in the text, and a length of its own.
fn tagged(s: usize, n: usize) -> Vec<u8> {
    payload(&format!("s{s}n{n}:"), 8 + (s * n) % 50)
}

#[test]
fn frames_from_many_senders_never_interleave_under_partial_writes() {
    const SENDERS: usize = 8;
    const FRAMES: usize = 30;
    let mut net = Net::new(Config::default());
    let receiver = net.connect();
    let senders: Vec<_> = (0..SENDERS).map(|_| net.connect()).collect();
    net.limit_writes(receiver, 7);
    net.block(receiver);
    let mut streams: Vec<Vec<u8>> = (0..SENDERS)
        .map(|s| {
            (0..FRAMES)
                .flat_map(|n| frame(receiver, &tagged(s, n)))
                .collect()
        })
        .collect();
    // Every sender's stream goes in in 5-byte reads, the senders taking turns,
    // so frames of all of them are in flight at once; meanwhile the receiver's
    // socket takes a few bytes at a time, so new frames join a queue whose
    // head is half written.
    while streams.iter().any(|s| !s.is_empty()) {
        for (sender, stream) in senders.iter().zip(&mut streams) {
            let cut = stream.len().min(5);
            let read: Vec<u8> = stream.drain(..cut).collect();
            net.input(*sender, &read);
        }
        net.allow(receiver, 11);
    }
    assert!(net.router.connection_info(receiver).unwrap().queued_bytes > 0);
    net.unblock(receiver);
    let delivered = payloads(&net.take_received(receiver));
    assert_eq!(delivered.len(), SENDERS * FRAMES);
    let mut next_seq = [0; SENDERS];
    for got in delivered {
        // The tag names the sender and the sequence number.
        let text = String::from_utf8(got.clone()).unwrap();
        let (s, rest) = text[1..].split_once('n').unwrap();
        let (n, _) = rest.split_once(':').unwrap();
        let (s, n): (usize, usize) = (s.parse().unwrap(), n.parse().unwrap());
        assert_eq!(n, next_seq[s], "sender {s}'s frames in order");
        assert_eq!(got, tagged(s, n), "whole, not mixed with another frame");
        next_seq[s] += 1;
    }
}

#[test]
fn frames_of_one_pair_keep_their_order_across_destinations_and_writes() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let left = net.connect();
    let right = net.connect();
    net.limit_writes(left, 3);
    net.block(right);
    let mut expected_left = Vec::new();
    let mut expected_right = Vec::new();
    for n in 0..200 {
        let (dest, expected) = if n % 3 == 0 {
            (right, &mut expected_right)
        } else {
            (left, &mut expected_left)
        };
        let p = payload(&format!("{n}:"), 4 + n % 11);
        net.send(sender, dest, &p);
        expected.push(p);
        if n % 50 == 0 {
            net.allow(right, 17);
        }
    }
    net.unblock(right);
    assert_eq!(payloads(&net.take_received(left)), expected_left);
    assert_eq!(payloads(&net.take_received(right)), expected_right);
}

#[test]
fn a_queue_longer_than_one_vectored_write_goes_out_over_several() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let receiver = net.connect();
    net.block(receiver);
    // Each frame cut across two reads is queued as its own chunk, so the
    // queue holds far more chunks than one write's 64 slices.
    let sent: Vec<Vec<u8>> = (0..300).map(|n| payload(&format!("{n}:"), 9)).collect();
    for p in &sent {
        let bytes = frame(receiver, p);
        net.input(sender, &bytes[..6]);
        net.input(sender, &bytes[6..]);
    }
    net.unblock(receiver);
    assert_eq!(payloads(&net.take_received(receiver)), sent);
    assert_eq!(net.router.stats().bytes_queued, 0);
}
