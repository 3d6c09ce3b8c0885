//! Two router cores joined by a peer link, driven by hand: frames cross, in
//! order and whole; backpressure, flow control, timeouts, refusals and
//! restarts behave as section 5 of the protocol says. The multi-router
//! simulation (`router_sim::cluster`) checks the same at random; these pin
//! each behaviour down by name.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{self, IoSlice};
use std::time::{Duration, Instant};

use router_core::peer::wire;
use router_core::{Config, ConnHandle, DropCause, IdLayout, Io, OverflowPolicy, PeerId, Router};

/// One core and what its clients received.
struct Core {
    router: Router,
    received: HashMap<ConnHandle, Vec<u8>>,
    /// Clients whose sockets take nothing.
    blocked: HashSet<ConnHandle>,
}

/// Two cores, shards 0 and 1 of node 0, and the link each way.
struct Pair {
    cores: [Core; 2],
    /// `links[i]`: batches from core `i` to the other, in order.
    links: [VecDeque<Vec<u8>>; 2],
    /// Whether the links copy each batch and leave the core its buffer, as
    /// the NATS bridge does, rather than take it, as the shard mesh does.
    copying: bool,
    /// Batches a link holds before it refuses the next; `None`: no bound.
    link_room: Option<usize>,
    now: Instant,
}

fn peer(i: usize) -> PeerId {
    PeerId::new(0, i as u32)
}

fn core(config: &Config, i: usize, incarnation: u64) -> Core {
    let router = Router::new(Config {
        id_layout: IdLayout::new(0, 0, 1, i as u32),
        incarnation,
        ..config.clone()
    })
    .expect("valid config");
    Core {
        router,
        received: HashMap::new(),
        blocked: HashSet::new(),
    }
}

impl Pair {
    fn new(config: Config) -> Pair {
        let mut pair = Pair {
            cores: [core(&config, 0, 1), core(&config, 1, 2)],
            links: [VecDeque::new(), VecDeque::new()],
            copying: false,
            link_room: None,
            now: router_sim::epoch(),
        };
        for i in 0..2 {
            pair.cores[i]
                .router
                .handle_peer_up(peer(1 - i), pair.now)
                .expect("peer");
        }
        pair.settle();
        pair
    }

    fn accept(&mut self, i: usize) -> ConnHandle {
        let conn = self.cores[i]
            .router
            .handle_accept(self.now)
            .expect("accepted");
        self.cores[i].received.insert(conn, Vec::new());
        self.drive();
        let id = self.cores[i].received.get_mut(&conn).expect("open");
        assert_eq!(std::mem::take(id), conn.id().to_be_bytes());
        conn
    }

    fn send(&mut self, i: usize, from: ConnHandle, to: ConnHandle, payload: &[u8]) {
        let mut frame = Vec::new();
        router_client::encode_frame(to.id(), payload, &mut frame).expect("no 0x00 inside");
        self.cores[i].router.handle_input(from, &frame, self.now);
        self.drive();
    }

    /// Each core does what it is told: closes, writes to clients that take
    /// them, batches onto its link.
    fn drive(&mut self) {
        for (i, core) in self.cores.iter_mut().enumerate() {
            let mut io = CoreIo {
                received: &mut core.received,
                blocked: &core.blocked,
                link: &mut self.links[i],
                copying: self.copying,
                room: self.link_room,
            };
            core.router.drive(self.now, &mut io);
        }
    }

    /// Carries every batch both ways until nothing moves.
    fn settle(&mut self) {
        for _ in 0..1000 {
            self.drive();
            if self.links.iter().all(VecDeque::is_empty) {
                return;
            }
            for i in 0..2 {
                while let Some(batch) = self.links[i].pop_front() {
                    self.cores[1 - i].router.handle_peer_input(&batch, self.now);
                }
            }
        }
        panic!("the links never went quiet");
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        for core in &mut self.cores {
            core.router.handle_timeout(self.now);
        }
        self.drive();
    }

    fn take(&mut self, i: usize, conn: ConnHandle) -> Vec<u8> {
        std::mem::take(self.cores[i].received.get_mut(&conn).expect("open"))
    }

    fn unblock(&mut self, i: usize, conn: ConnHandle) {
        self.cores[i].blocked.remove(&conn);
        self.cores[i].router.handle_writable(conn);
        self.drive();
    }
}

/// One core's sockets as its router sees them, and its link to the other.
struct CoreIo<'a> {
    received: &'a mut HashMap<ConnHandle, Vec<u8>>,
    blocked: &'a HashSet<ConnHandle>,
    link: &'a mut VecDeque<Vec<u8>>,
    copying: bool,
    room: Option<usize>,
}

impl Io for CoreIo<'_> {
    fn write(&mut self, conn: ConnHandle, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        if self.blocked.contains(&conn) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let socket = self.received.get_mut(&conn).expect("open");
        slices
            .iter()
            .for_each(|slice| socket.extend_from_slice(slice));
        Ok(slices.iter().map(|slice| slice.len()).sum())
    }

    fn close(&mut self, conn: ConnHandle) {
        self.received.remove(&conn);
    }

    fn resume_reading(&mut self, _conn: ConnHandle) {}

    fn stop_listening(&mut self) {}

    fn send_to_peer(&mut self, _peer: PeerId, batch: &mut Vec<u8>) -> bool {
        if self.room.is_some_and(|room| self.link.len() >= room) {
            return false;
        }
        let sent = if self.copying {
            batch.clone()
        } else {
            std::mem::take(batch)
        };
        self.link.push_back(sent);
        true
    }
}

/// Drives a router with no client, and returns the batches it sends.
fn batches_of(router: &mut Router, now: Instant) -> Vec<Vec<u8>> {
    let mut received = HashMap::new();
    let mut link = VecDeque::new();
    let mut io = CoreIo {
        received: &mut received,
        blocked: &HashSet::new(),
        link: &mut link,
        copying: false,
        room: None,
    };
    router.drive(now, &mut io);
    link.into()
}

fn small(policy: OverflowPolicy) -> Config {
    Config {
        outbound_high_water: 100,
        outbound_low_water: 50,
        overflow_policy: policy,
        ..Config::default()
    }
}

#[test]
fn the_reference_exchange_works_across_cores() {
    let mut pair = Pair::new(Config::default());
    let one = pair.accept(0);
    let two = pair.accept(1);
    pair.send(0, one, two, b"hello, number 2");
    pair.settle();
    assert_eq!(pair.take(1, two), b"hello, number 2\0");
    pair.send(1, two, one, b"hello back, number 1");
    pair.settle();
    assert_eq!(pair.take(0, one), b"hello back, number 1\0");
    let a = pair.cores[0].router.stats();
    assert_eq!((a.forwarded.frames, a.from_peers.frames), (1, 1));
    assert_eq!(a.peer_bytes_in_flight, 0, "acknowledged once settled");
}

#[test]
fn frames_cut_anywhere_arrive_whole_and_in_order_across_cores() {
    let mut pair = Pair::new(Config::default());
    let sender = pair.accept(0);
    let dest = pair.accept(1);
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    for n in 0..200u32 {
        let payload = format!("frame {n} {}", "x".repeat(n as usize % 37));
        router_client::encode_frame(dest.id(), payload.as_bytes(), &mut stream)
            .expect("no 0x00 inside");
        expected.extend_from_slice(payload.as_bytes());
        expected.push(0);
    }
    for chunk in stream.chunks(7) {
        pair.cores[0].router.handle_input(sender, chunk, pair.now);
        pair.drive();
        // Carry only now and then, so that batches hold many frames.
        if pair.links[0].len() > 3 {
            pair.settle();
        }
    }
    pair.settle();
    assert_eq!(pair.take(1, dest), expected);
}

#[test]
fn no_batch_exceeds_max_batch_bytes_and_what_is_cut_off_follows_in_order() {
    let max_batch_bytes = 400;
    let mut pair = Pair::new(Config {
        max_frame_bytes: router_core::largest_frame_in_batch(max_batch_bytes),
        max_batch_bytes,
        ..Config::default()
    });
    let sender = pair.accept(0);
    let dest = pair.accept(1);
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    for n in 0..100u32 {
        let payload = format!("frame {n} {}", "y".repeat(n as usize * 7 % 300));
        router_client::encode_frame(dest.id(), payload.as_bytes(), &mut stream)
            .expect("no 0x00 inside");
        expected.extend_from_slice(payload.as_bytes());
        expected.push(0);
    }
    // All at once: one drive has far more than one batch's worth to send.
    pair.cores[0].router.handle_input(sender, &stream, pair.now);
    pair.drive();
    let batches = pair.links[0].len();
    assert!(batches > 10, "cut into many batches, not {batches}");
    for batch in &pair.links[0] {
        assert!(batch.len() <= max_batch_bytes, "{} bytes", batch.len());
        wire::decode(batch, max_batch_bytes).expect("every cut batch is whole");
    }
    pair.settle();
    assert_eq!(pair.take(1, dest), expected);
    let stats = pair.cores[1].router.stats();
    assert_eq!(stats.dropped_total().frames, 0, "{stats:?}");
}

#[test]
fn a_link_that_refuses_midway_through_a_cut_gets_the_rest_in_order_with_what_came_since() {
    let max_batch_bytes = 400;
    let mut pair = Pair::new(Config {
        max_frame_bytes: router_core::largest_frame_in_batch(max_batch_bytes),
        max_batch_bytes,
        ..Config::default()
    });
    pair.copying = true;
    pair.link_room = Some(3);
    let sender = pair.accept(0);
    let dest = pair.accept(1);
    let mut expected = Vec::new();
    let mut send_burst = |pair: &mut Pair, from: u32| {
        let mut stream = Vec::new();
        for n in from..from + 40 {
            let payload = format!("frame {n} {}", "z".repeat(n as usize * 13 % 280));
            router_client::encode_frame(dest.id(), payload.as_bytes(), &mut stream)
                .expect("no 0x00 inside");
            expected.extend_from_slice(payload.as_bytes());
            expected.push(0);
        }
        pair.cores[0].router.handle_input(sender, &stream, pair.now);
        pair.drive();
    };
    // The link takes three cut batches and refuses the fourth; frames that
    // come meanwhile join the end of what waits.
    send_burst(&mut pair, 0);
    assert_eq!(pair.links[0].len(), 3, "refused after three");
    send_burst(&mut pair, 40);
    assert_eq!(pair.links[0].len(), 3, "still refused");
    pair.link_room = None;
    let mut batches = std::mem::take(&mut pair.links[0]);
    pair.drive();
    batches.append(&mut pair.links[0]);
    assert!(
        batches.len() > 10,
        "cut into many batches, not {}",
        batches.len()
    );
    for batch in &batches {
        assert!(batch.len() <= max_batch_bytes, "{} bytes", batch.len());
        pair.cores[1].router.handle_peer_input(batch, pair.now);
    }
    pair.settle();
    assert!(
        pair.take(1, dest) == expected,
        "frames lost or out of order"
    );
    let stats = pair.cores[1].router.stats();
    assert_eq!(stats.dropped_total().frames, 0, "{stats:?}");
    assert_eq!(stats.peer_batches_rejected, 0, "{stats:?}");
}

#[test]
fn a_frame_limit_that_no_batch_can_carry_is_refused() {
    let config = Config {
        max_batch_bytes: 1024,
        max_frame_bytes: router_core::largest_frame_in_batch(1024) + 1,
        ..Config::default()
    };
    assert!(matches!(
        config.validate(),
        Err(router_core::ConfigError::FrameAboveBatch { fits: 934, .. })
    ));
}

#[test]
fn a_sender_to_a_full_remote_destination_pauses_and_resumes_when_it_drains() {
    let mut pair = Pair::new(small(OverflowPolicy::Pause));
    let sender = pair.accept(0);
    let slow = pair.accept(1);
    let other_sender = pair.accept(0);
    let other = pair.accept(1);
    pair.cores[1].blocked.insert(slow);
    let payload = [b'p'; 60];
    for _ in 0..6 {
        pair.send(0, sender, slow, &payload);
        pair.settle();
    }
    assert!(
        !pair.cores[0].router.wants_read(sender),
        "paused behind a remote full destination"
    );
    assert_eq!(
        pair.cores[0]
            .router
            .peer_info(peer(1))
            .unwrap()
            .full_destinations,
        1
    );
    // No other pair waits.
    pair.send(0, other_sender, other, b"unhindered");
    pair.settle();
    assert_eq!(pair.take(1, other), b"unhindered\0");
    // The destination drains: the sender resumes, and everything arrives.
    pair.unblock(1, slow);
    pair.settle();
    assert!(pair.cores[0].router.wants_read(sender), "resumed");
    let mut expected = Vec::new();
    for _ in 0..6 {
        expected.extend_from_slice(&payload);
        expected.push(0);
    }
    assert_eq!(pair.take(1, slow), expected);
    assert_eq!(pair.cores[0].router.stats().dropped_total().frames, 0);
    assert_eq!(pair.cores[1].router.stats().dropped_total().frames, 0);
}

#[test]
fn a_sender_waiting_on_a_remote_destination_resumes_when_it_closes() {
    let mut pair = Pair::new(small(OverflowPolicy::Pause));
    let sender = pair.accept(0);
    let slow = pair.accept(1);
    pair.cores[1].blocked.insert(slow);
    for _ in 0..6 {
        pair.send(0, sender, slow, &[b'p'; 60]);
        pair.settle();
    }
    assert!(!pair.cores[0].router.wants_read(sender));
    pair.cores[1].router.handle_reset(slow, pair.now);
    pair.drive();
    pair.settle();
    assert!(
        pair.cores[0].router.wants_read(sender),
        "resumed once it closed"
    );
}

#[test]
fn under_drop_the_owner_drops_frames_to_a_full_destination() {
    let mut pair = Pair::new(small(OverflowPolicy::Drop));
    let sender = pair.accept(0);
    let slow = pair.accept(1);
    pair.cores[1].blocked.insert(slow);
    for _ in 0..6 {
        pair.send(0, sender, slow, &[b'p'; 60]);
        pair.settle();
        assert!(
            pair.cores[0].router.wants_read(sender),
            "never paused under drop"
        );
    }
    let owner = pair.cores[1].router.stats();
    assert!(owner.dropped(DropCause::DestinationFull).frames > 0);
    assert_eq!(owner.from_peers.frames, 6);
}

#[test]
fn the_window_bounds_bytes_in_flight_and_stalls_the_sender_until_acknowledged() {
    let config = Config {
        peer_window: 200,
        ..Config::default()
    };
    let mut pair = Pair::new(config);
    let sender = pair.accept(0);
    let dest = pair.accept(1);
    for _ in 0..10 {
        pair.send(0, sender, dest, &[b'w'; 40]);
    }
    // Nothing carried yet: the window is full and the sender stalled.
    let a = &pair.cores[0].router;
    let info = a.peer_info(peer(1)).unwrap();
    assert!(
        info.bytes_in_flight + 49 > 200 && info.bytes_in_flight <= 200,
        "{info:?}"
    );
    assert!(!a.wants_read(sender));
    assert_eq!(a.stats().peer_stalls, 1);
    pair.settle();
    assert!(pair.cores[0].router.wants_read(sender));
    assert_eq!(pair.take(1, dest).len(), 10 * 41);
}

#[test]
fn a_silent_peer_becomes_unreachable_and_its_waiting_senders_resume() {
    let config = Config {
        peer_window: 100,
        ..Config::default()
    };
    let mut pair = Pair::new(config);
    let sender = pair.accept(0);
    let dest = pair.accept(1);
    for _ in 0..4 {
        pair.send(0, sender, dest, &[b's'; 40]);
    }
    assert!(
        !pair.cores[0].router.wants_read(sender),
        "stalled on the window"
    );
    // Core 1 hears nothing more from here on: core 0 times it out.
    pair.links[0].clear();
    let timeout = pair.cores[0].router.config().peer_timeout;
    pair.advance(timeout);
    let a = pair.cores[0].router.stats().clone();
    assert_eq!(a.peer_timeouts, 1);
    assert!(pair.cores[0].router.wants_read(sender), "resumed");
    assert!(!pair.cores[0].router.peer_info(peer(1)).unwrap().reachable);
    assert_eq!(a.peer_bytes_in_flight, 0, "written off");
    // Its held frame and the one behind it were dropped as no route, and so
    // is the next one.
    assert_eq!(a.dropped(DropCause::NoRoute).frames, 2);
    pair.send(0, sender, dest, b"later");
    assert_eq!(
        pair.cores[0]
            .router
            .stats()
            .dropped(DropCause::NoRoute)
            .frames,
        3
    );
    // The link carries again: both cores are reachable, and core 1 counts
    // the frames lost from the counts in core 0's next batch.
    pair.settle();
    assert!(pair.cores[0].router.peer_info(peer(1)).unwrap().reachable);
    let b = pair.cores[1].router.stats();
    let forwarded = pair.cores[0].router.stats().forwarded.frames;
    assert_eq!(
        b.from_peers.frames + b.dropped(DropCause::InTransit).frames,
        forwarded
    );
}

#[test]
fn a_core_with_another_layout_is_refused() {
    let mut pair = Pair::new(Config::default());
    let mut stranger = Router::new(Config {
        id_layout: IdLayout::new(1, 0, 1, 1),
        ..Config::default()
    })
    .unwrap();
    stranger
        .handle_peer_up(PeerId::new(0, 0), pair.now)
        .unwrap();
    let batches = batches_of(&mut stranger, pair.now);
    assert_eq!(batches.len(), 1, "a hello");
    pair.cores[0]
        .router
        .handle_peer_input(&batches[0], pair.now);
    assert_eq!(pair.cores[0].router.stats().peer_batches_rejected, 1);
}

#[test]
fn garbage_and_replays_from_a_peer_are_refused_and_counted() {
    let mut pair = Pair::new(Config::default());
    let a = pair.accept(0);
    let b = pair.accept(1);
    pair.send(0, a, b, b"once");
    let batch = pair.links[0].front().cloned().expect("a batch");
    pair.settle();
    let router = &mut pair.cores[1].router;
    router.handle_peer_input(&batch, pair.now);
    router.handle_peer_input(b"\x00garbage", pair.now);
    let mut forged = batch.clone();
    forged[wire::HEADER_LEN + wire::FRAME_OVERHEAD] = 0; // A zero inside the payload.
    router.handle_peer_input(&forged, pair.now);
    assert_eq!(router.stats().peer_batches_rejected, 3);
    pair.drive();
    assert_eq!(pair.take(1, b), b"once\0", "delivered once");
}

#[test]
fn a_restarted_peer_is_recognised_and_counted_afresh() {
    let mut pair = Pair::new(Config::default());
    let a = pair.accept(0);
    let b = pair.accept(1);
    pair.send(0, a, b, b"before");
    pair.send(1, b, a, b"before");
    pair.settle();
    // Core 1 restarts with a new incarnation: its clients are gone.
    let config = pair.cores[1].router.config().clone();
    pair.cores[1] = core(&config, 1, 99);
    pair.cores[1]
        .router
        .handle_peer_up(peer(0), pair.now)
        .unwrap();
    pair.settle();
    let b2 = pair.accept(1);
    pair.send(0, a, b2, b"after");
    pair.send(1, b2, a, b"after");
    pair.settle();
    assert_eq!(pair.take(1, b2), b"after\0");
    assert_eq!(pair.take(0, a), b"before\0after\0");
    for core in &pair.cores {
        assert_eq!(core.router.stats().dropped(DropCause::InTransit).frames, 0);
        assert_eq!(core.router.stats().peer_batches_rejected, 0);
    }
}

#[test]
fn a_lone_router_has_no_peer_timer_and_no_batch() {
    let mut router = Router::new(Config::default()).unwrap();
    let now = router_sim::epoch();
    assert_eq!(router.poll_timeout(), None);
    assert!(
        batches_of(&mut router, now).is_empty(),
        "a batch without peers"
    );
    assert_eq!(router.peers().count(), 0);
}

#[test]
fn a_peer_outside_the_layout_or_itself_is_refused() {
    let mut router = Router::new(Config {
        id_layout: IdLayout::new(0, 0, 1, 0),
        ..Config::default()
    })
    .unwrap();
    let now = router_sim::epoch();
    assert!(router.handle_peer_up(PeerId::new(0, 0), now).is_err());
    assert!(router.handle_peer_up(PeerId::new(0, 2), now).is_err());
    assert!(router.handle_peer_up(PeerId::new(0, 1), now).is_ok());
}

#[test]
fn a_draining_core_takes_no_more_frames_and_its_peers_count_no_route() {
    let mut pair = Pair::new(Config::default());
    let sender = pair.accept(0);
    let dest = pair.accept(1);
    pair.cores[1].router.shutdown(pair.now);
    pair.drive();
    // A frame already on its way when the shutdown began.
    pair.send(0, sender, dest, b"crossing");
    pair.settle();
    assert!(!pair.cores[0].router.peer_info(peer(1)).unwrap().reachable);
    pair.send(0, sender, dest, b"after");
    let a = pair.cores[0].router.stats();
    let b = pair.cores[1].router.stats();
    assert_eq!(
        a.dropped(DropCause::NoRoute).frames + b.dropped(DropCause::Shutdown).frames,
        2,
        "each frame counted once, by one core"
    );
}

#[test]
fn a_busy_link_keeps_its_batch_buffer_and_a_quiet_one_gives_it_back() {
    let mut pair = Pair::new(Config::default());
    // A link that copies the batch leaves the core its buffer, to keep or
    // to give back (one that takes it leaves an empty one).
    pair.copying = true;
    let sender = pair.accept(0);
    let dest = pair.accept(1);
    let heap = |pair: &Pair| {
        let info = pair.cores[0].router.peer_info(peer(1)).expect("up");
        info.heap_bytes
    };
    let mut burst = Vec::new();
    for _ in 0..200 {
        router_client::encode_frame(dest.id(), &[b'x'; 1000], &mut burst).expect("no 0x00");
    }
    pair.cores[0].router.handle_input(sender, &burst, pair.now);
    pair.drive();
    assert_eq!(pair.links[0].len(), 1, "one batch of 200 frames");
    assert!(
        heap(&pair) >= 200 * 1000,
        "kept for the next: {}",
        heap(&pair)
    );
    pair.send(0, sender, dest, b"a trickle");
    assert!(heap(&pair) < 64 * 1024, "given back: {}", heap(&pair));
    pair.settle();
    assert_eq!(pair.take(1, dest).len(), 200 * 1001 + b"a trickle\0".len());
}
