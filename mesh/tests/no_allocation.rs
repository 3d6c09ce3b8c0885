//! Steady traffic between two shards allocates nothing: every batch's
//! buffer comes back to its sender for a later batch. Counted by a global
//! allocator, on this test's thread only, so that the test harness's own
//! allocations do not count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use router_core::PeerId;
use router_links::{Doorbell, PeerLinks, Wake};
use router_mesh::{ShardLinks, mesh};

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is passed on to `System` unchanged; counting touches a
// const-initialised thread-local, which does not allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

struct Nobody;

impl Wake for Nobody {
    fn wake(&self) {}
}

/// One turn of each shard, as a router drives it: `burst` batches of
/// `len` bytes built in whatever buffer the links left it, each sent to the
/// other shard, then everything that arrived taken in.
fn turn(links: &mut [ShardLinks], buffers: &mut [Vec<u8>], burst: usize, len: usize) {
    for me in 0..2 {
        let peer = PeerId::new(0, 1 - me as u32);
        for _ in 0..burst {
            buffers[me].clear();
            buffers[me].resize(len, me as u8);
            assert!(links[me].send(peer, &mut buffers[me]));
        }
    }
    for (me, links) in links.iter_mut().enumerate() {
        let mut taken = 0;
        links.receive(&mut |batch| {
            assert_eq!(batch.len(), len);
            assert!(batch.iter().all(|&byte| byte == 1 - me as u8));
            taken += 1;
        });
        assert_eq!(taken, burst);
    }
}

#[test]
fn steady_traffic_between_shards_allocates_nothing() {
    let doorbells = (0..2)
        .map(|_| Arc::new(Doorbell::new(Box::new(Nobody))))
        .collect();
    let mut links = mesh(0, doorbells, 256);
    let mut buffers = vec![Vec::new(), Vec::new()];
    // Warming up fills each sender's spares with buffers large enough.
    for _ in 0..4 {
        turn(&mut links, &mut buffers, 16, 4096);
    }
    let before = allocations();
    for round in 0..1000 {
        turn(&mut links, &mut buffers, 1 + round % 16, 1 + round % 4096);
    }
    assert_eq!(allocations() - before, 0, "allocations in steady traffic");
}
