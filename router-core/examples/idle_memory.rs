//! What an idle connection costs the core, measured rather than estimated.
//!
//! Accepts 100 000 connections, writes their IDs, and reports the heap bytes
//! the router holds per connection, counted by a global allocator that tallies
//! every allocation and deallocation. Then half the connections receive one
//! small frame, then one 8 KiB frame, each written at once, and it measures
//! again: a connection that once had traffic and is idle again should cost
//! what it did before.
//!
//! Run with `cargo run --release -p router-core --example idle_memory`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use router_core::{Config, ConnHandle, Router};
use router_sim::Sink;

const CONNECTIONS: usize = 100_000;

/// The system allocator, keeping count of the bytes and blocks live.
struct CountingAllocator;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static LIVE_BLOCKS: AtomicUsize = AtomicUsize::new(0);
/// The largest block ever allocated: with 100 000 connections, the
/// connection table, which holds every connection's state inline.
static LARGEST_BLOCK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counters only observe the sizes.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees for `layout` are passed on as they are.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), Relaxed);
            LIVE_BLOCKS.fetch_add(1, Relaxed);
            LARGEST_BLOCK.fetch_max(layout.size(), Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (see `alloc`).
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size(), Relaxed);
        LIVE_BLOCKS.fetch_sub(1, Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, and the caller guarantees `new_size`.
        let new_ptr = unsafe { System.realloc(ptr, layout, new_size) };
        if !new_ptr.is_null() {
            LIVE_BYTES.fetch_add(new_size, Relaxed);
            LIVE_BYTES.fetch_sub(layout.size(), Relaxed);
            LARGEST_BLOCK.fetch_max(new_size, Relaxed);
        }
        new_ptr
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Heap bytes and blocks live now.
fn live() -> (usize, usize) {
    (LIVE_BYTES.load(Relaxed), LIVE_BLOCKS.load(Relaxed))
}

fn main() {
    let now = Instant::now();
    let before_router = live();
    let mut router = Router::new(Config::default()).expect("default config");
    let empty = live();
    println!(
        "router: {} bytes inline, {} heap bytes when empty",
        size_of::<Router>(),
        empty.0 - before_router.0
    );

    let conns: Vec<ConnHandle> = (0..CONNECTIONS)
        .map(|_| router.handle_accept(now).expect("below the limit"))
        .collect();
    // The handles are the example's, not the router's: one block to leave out.
    let handles = (conns.capacity() * size_of::<ConnHandle>(), 1);
    report("accepted, IDs queued", &router, empty, handles);
    // hashbrown keeps entries inline in a power-of-two table at most 7/8 full,
    // with one control byte per slot: that gives the size of one entry.
    let table = LARGEST_BLOCK.load(Relaxed);
    let slots = (CONNECTIONS * 8 / 7).next_power_of_two();
    println!(
        "connection table: one block of {table} bytes, {slots} slots of about {} bytes",
        table / slots - 1
    );

    router.drive(now, &mut Sink);
    report("IDs written (idle)", &router, empty, handles);

    for payload_len in [5, 8 * 1024] {
        deliver_to_every_other(&mut router, &conns, payload_len, now);
        let stage = format!("a {payload_len}-byte frame delivered to every other one (idle)");
        report(&stage, &router, empty, handles);
    }
}

/// Each even connection sends one frame to the next, which takes it whole.
fn deliver_to_every_other(router: &mut Router, conns: &[ConnHandle], len: usize, now: Instant) {
    for pair in conns.chunks(2) {
        let mut frame = Vec::new();
        router_client::encode_frame(pair[1].id(), &vec![b'x'; len], &mut frame)
            .expect("no 0x00 in the payload");
        router.handle_input(pair[0], &frame, now);
        router.drive(now, &mut Sink);
    }
}

/// Prints the router's heap use per connection since `empty`, less what the
/// example itself holds (`excluded` bytes and blocks).
fn report(stage: &str, router: &Router, empty: (usize, usize), excluded: (usize, usize)) {
    let (bytes, blocks) = live();
    let bytes = bytes - empty.0 - excluded.0;
    let blocks = blocks - empty.1 - excluded.1;
    let open = router.stats().connections_open as f64;
    println!(
        "{stage}: {:.1} heap bytes in {:.2} blocks per connection ({open} connections, {:.1} MiB)",
        bytes as f64 / open,
        blocks as f64 / open,
        bytes as f64 / f64::from(1 << 20)
    );
}
