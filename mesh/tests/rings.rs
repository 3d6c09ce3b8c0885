//! The mesh on its own: batches between shards, full rings, peers coming and
//! going, and wake-ups, with a thread per shard where it matters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use router_core::PeerId;
use router_links::{Doorbell, PeerChange, PeerLinks, Wake};
use router_mesh::{RECEIVE_PER_TURN, ShardLinks, mesh};

/// How long a thread may wait for a batch before the test counts a wake-up
/// as lost.
const PATIENCE: Duration = Duration::from_secs(10);

/// A loop's sleep: woken by its doorbell, counting the wakes.
#[derive(Default)]
struct Sleeper {
    rung: Mutex<bool>,
    woken: Condvar,
    wakes: AtomicU64,
}

/// What the doorbell holds of a [`Sleeper`].
struct WakeSleeper(Arc<Sleeper>);

impl Wake for WakeSleeper {
    fn wake(&self) {
        let sleeper = &self.0;
        sleeper.wakes.fetch_add(1, Ordering::SeqCst);
        *sleeper.rung.lock().unwrap() = true;
        sleeper.woken.notify_one();
    }
}

impl Sleeper {
    /// Waits until rung since the last wait; panics after [`PATIENCE`].
    fn wait(&self) {
        let rung = self.rung.lock().unwrap();
        let (mut rung, timeout) = self
            .woken
            .wait_timeout_while(rung, PATIENCE, |rung| !*rung)
            .unwrap();
        assert!(!timeout.timed_out(), "a delivery did not wake the loop");
        *rung = false;
    }
}

/// `shards` shards of node 0, each with a doorbell over a [`Sleeper`].
fn shards(shards: usize, ring_slots: usize) -> Vec<(ShardLinks, Arc<Doorbell>, Arc<Sleeper>)> {
    let sleepers: Vec<Arc<Sleeper>> = (0..shards).map(|_| Arc::default()).collect();
    let doorbells: Vec<Arc<Doorbell>> = sleepers
        .iter()
        .map(|sleeper| Arc::new(Doorbell::new(Box::new(WakeSleeper(sleeper.clone())))))
        .collect();
    mesh(0, doorbells.clone(), ring_slots)
        .into_iter()
        .zip(doorbells)
        .zip(sleepers)
        .map(|((links, doorbell), sleeper)| (links, doorbell, sleeper))
        .collect()
}

fn shard(index: u32) -> PeerId {
    PeerId::new(0, index)
}

/// Batch `n`: its number, then `n % 100` bytes of `n as u8`, so that a
/// batch cut, merged or reordered shows.
fn numbered(n: u64) -> Vec<u8> {
    let mut batch = n.to_be_bytes().to_vec();
    batch.resize(8 + (n % 100) as usize, n as u8);
    batch
}

/// Receives, checking that batch `expected` comes next.
fn take_in_order(links: &mut ShardLinks, expected: &mut u64) -> usize {
    links.receive(&mut |batch| {
        assert_eq!(batch, numbered(*expected));
        *expected += 1;
    })
}

fn receive_all(links: &mut ShardLinks) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    while links.receive(&mut |batch| got.push(batch.to_vec())) > 0 {}
    got
}

#[test]
fn batches_cross_whole_and_in_order_between_threads_that_sleep() {
    const BATCHES: u64 = 10_000;
    let deadline = Instant::now() + Duration::from_secs(60);
    let threads: Vec<_> = shards(2, 16)
        .into_iter()
        .enumerate()
        .map(|(me, (mut links, doorbell, sleeper))| {
            thread::spawn(move || {
                let peer = shard(1 - me as u32);
                let (mut sent, mut expected) = (0, 0);
                while sent < BATCHES || expected < BATCHES {
                    assert!(Instant::now() < deadline, "shard {me} did not finish");
                    // A turn: send while the ring takes, then take in.
                    while sent < BATCHES && links.send(peer, &mut numbered(sent)) {
                        sent += 1;
                    }
                    if take_in_order(&mut links, &mut expected) > 0 || links.has_room_again() {
                        continue;
                    }
                    if sent == BATCHES && expected == BATCHES {
                        break;
                    }
                    // Nothing to do, perhaps a batch the ring refused: sleep
                    // as a driver does.
                    doorbell.sleep();
                    if take_in_order(&mut links, &mut expected) == 0 && !links.has_room_again() {
                        sleeper.wait();
                    }
                    doorbell.awake();
                }
                (doorbell.wakeups(), sleeper.wakes.load(Ordering::SeqCst))
            })
        })
        .collect();
    for handle in threads {
        let (wakeups, wakes) = handle.join().expect("a shard thread failed");
        assert_eq!(wakeups, wakes, "the doorbell counts each wake it made");
        assert!(
            wakeups > 0,
            "with 16 slots for {BATCHES} batches, both slept"
        );
        assert!(
            wakeups <= 2 * BATCHES,
            "at most one wake-up per batch and per freed slot, {wakeups} for {BATCHES}"
        );
    }
}

#[test]
fn a_full_ring_refuses_at_once_and_takes_again_once_drained() {
    let [(mut zero, ..), (mut one, ..)]: [_; 2] = shards(2, 4).try_into().ok().unwrap();
    for n in 0..4 {
        assert!(zero.send(shard(1), &mut numbered(n)), "slot {n} is free");
    }
    assert!(!zero.send(shard(1), &mut numbered(4)), "the ring is full");
    assert_eq!(one.receive(&mut |_| {}), 4);
    assert!(zero.send(shard(1), &mut numbered(4)));
    assert_eq!(receive_all(&mut one), [numbered(4)]);
    // The other direction has its own ring, empty all along.
    assert!(one.send(shard(0), &mut numbered(0)));
}

#[test]
fn a_sender_refused_by_a_full_ring_is_woken_when_it_has_room() {
    let [(mut zero, bell_zero, _), (mut one, ..)]: [_; 2] = shards(2, 2).try_into().ok().unwrap();
    assert!(zero.send(shard(1), &mut b"one".to_vec()) && zero.send(shard(1), &mut b"two".to_vec()));
    assert!(!zero.send(shard(1), &mut b"three".to_vec()));
    assert!(!zero.has_room_again());
    bell_zero.sleep();
    assert_eq!(one.receive(&mut |_| {}), 2);
    assert_eq!(bell_zero.wakeups(), 1, "the sender slept holding a batch");
    assert!(zero.has_room_again());
    assert!(zero.send(shard(1), &mut b"three".to_vec()));
    assert!(!zero.has_room_again(), "told once");
}

#[test]
fn each_peer_comes_up_once_and_goes_down_once_its_links_are_dropped_and_read() {
    let mut links: Vec<ShardLinks> = shards(3, 4).into_iter().map(|(l, ..)| l).collect();
    let changes =
        |links: &mut ShardLinks| std::iter::from_fn(|| links.poll_change()).collect::<Vec<_>>();
    assert_eq!(
        changes(&mut links[0]),
        [PeerChange::Up(shard(1)), PeerChange::Up(shard(2))]
    );
    assert_eq!(changes(&mut links[0]), []);
    assert!(links[2].send(shard(0), &mut b"last words".to_vec()));
    drop(links.pop());
    assert_eq!(
        changes(&mut links[0]),
        [],
        "a batch from it is still to come"
    );
    assert_eq!(receive_all(&mut links[0]), [b"last words".to_vec()]);
    assert_eq!(changes(&mut links[0]), [PeerChange::Down(shard(2))]);
    assert_eq!(changes(&mut links[0]), [], "down once");
    assert!(
        !links[0].send(shard(2), &mut b"late".to_vec()),
        "nobody to take it"
    );
    assert!(links[0].send(shard(1), &mut b"still there".to_vec()));
}

#[test]
fn only_a_sleeping_loop_is_woken_once_per_sleep() {
    let [(mut zero, ..), (_one, bell_one, sleeper_one)]: [_; 2] =
        shards(2, 256).try_into().ok().unwrap();
    for n in 0..100 {
        assert!(zero.send(shard(1), &mut numbered(n)));
    }
    assert_eq!(bell_one.wakeups(), 0, "shard 1 was awake");
    bell_one.sleep();
    for n in 0..100 {
        assert!(zero.send(shard(1), &mut numbered(n)));
    }
    assert_eq!(bell_one.wakeups(), 1);
    assert_eq!(sleeper_one.wakes.load(Ordering::SeqCst), 1);
}

#[test]
fn a_receive_takes_at_most_its_bound_in_turns_from_each_peer() {
    let [(mut zero, ..), (mut one, ..), (mut two, ..)]: [_; 3] =
        shards(3, 256).try_into().ok().unwrap();
    for n in 0..100 {
        assert!(one.send(shard(0), &mut vec![1, n]));
        assert!(two.send(shard(0), &mut vec![2, n]));
    }
    let mut got = Vec::new();
    assert_eq!(
        zero.receive(&mut |b| got.push(b.to_vec())),
        RECEIVE_PER_TURN
    );
    let from = |peer: u8, got: &[Vec<u8>]| got.iter().filter(|b| b[0] == peer).count();
    assert_eq!(from(1, &got), RECEIVE_PER_TURN / 2, "peers take turns");
    assert_eq!(from(2, &got), RECEIVE_PER_TURN / 2);
    got.extend(receive_all(&mut zero));
    for peer in [1, 2] {
        let numbers: Vec<u8> = got.iter().filter(|b| b[0] == peer).map(|b| b[1]).collect();
        assert_eq!(
            numbers,
            (0..100).collect::<Vec<u8>>(),
            "in order from {peer}"
        );
    }
}

#[test]
fn batches_for_a_core_outside_the_mesh_are_refused() {
    let [(mut zero, ..), _]: [_; 2] = shards(2, 4).try_into().ok().unwrap();
    assert!(!zero.send(shard(0), &mut b"to itself".to_vec()));
    assert!(!zero.send(PeerId::new(1, 1), &mut b"to another node".to_vec()));
    assert!(!zero.send(shard(2), &mut b"to a shard that does not exist".to_vec()));
}
