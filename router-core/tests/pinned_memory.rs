//! Memory the accounting cannot see: does a frame queued to a slow
//! destination keep alive more than the router reports?
//!
//! A sender paused behind a full destination has the rest of its last read
//! stashed in one buffer; once it resumes, the frames in that buffer are
//! routed, and a slow destination may hold one of them for a long time. If
//! the frame were a view of the stash, it would keep the whole stash
//! allocated while [`ConnInfo::heap_bytes`] counted only the frame. This
//! binary counts real allocations (its own global allocator, counting per
//! thread so the test harness's threads add nothing) and compares them with
//! what the router reports.
//!
//! [`ConnInfo::heap_bytes`]: router_core::ConnInfo::heap_bytes

#[allow(dead_code, unreachable_pub)]
#[path = "behaviour/support.rs"]
mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use router_core::{Config, ConnHandle};

use support::{Net, frame};

/// The system allocator, counting the bytes live on each thread. Written
/// out rather than taken from a crate: it is the dozen lines below, and the
/// per-thread count is what keeps the harness's own threads out of it.
struct Counting;

thread_local! {
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // `try_with`: the thread's slot is gone while the thread exits.
    let _ = LIVE_BYTES.try_with(|live| live.set(live.get() + delta));
}

fn live_bytes() -> isize {
    LIVE_BYTES.with(Cell::get)
}

// SAFETY: every call is passed on to `System` unchanged; only a counter is
// updated besides.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, which `System` shares.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` or `realloc` above, i.e. `System`.
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`; the caller upholds `realloc`'s contract.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes the router's own bookkeeping may allocate besides buffers: the
/// ready queue, the deadline heap, a waiter list, growing once.
const BOOKKEEPING: isize = 1024;

fn heap_bytes(net: &Net, conns: &[ConnHandle]) -> isize {
    let info = |&conn| net.router.connection_info(conn).map_or(0, |i| i.heap_bytes);
    conns.iter().map(info).sum::<usize>() as isize
}

/// What `conns` report as held is within a factor of 2 of the `held` bytes
/// the allocator counted, either way.
fn assert_reports_what_it_holds(net: &Net, conns: &[ConnHandle], held: isize) {
    let reported = heap_bytes(net, conns);
    assert!(
        held <= 2 * reported + BOOKKEEPING,
        "the router holds {held} bytes but reports {reported}"
    );
    assert!(
        reported <= 2 * held + BOOKKEEPING,
        "the router reports {reported} bytes but holds {held}"
    );
}

#[test]
fn a_small_frame_from_a_stash_held_by_a_slow_destination_pins_only_itself() {
    let mut net = Net::new(Config {
        outbound_high_water: 1024,
        outbound_low_water: 256,
        ..Config::default()
    });
    let sender = net.connect();
    let full = net.connect();
    let slow = net.connect();
    let reader = net.connect();
    net.block(full);
    net.block(slow);
    let conns = [sender, full, slow, reader];
    let before = live_bytes();

    // One read: a frame that fills `full`, one more for it (held: the sender
    // pauses), then a small frame for `slow` and a large one for `reader`,
    // stashed together in one buffer while the sender is paused.
    let mut read = frame(full, &[b'f'; 2000]);
    read.extend(frame(full, b"held"));
    read.extend(frame(slow, b"small"));
    read.extend(frame(reader, &[b'r'; 60_000]));
    net.input(sender, &read);
    assert!(net.router.connection_info(sender).unwrap().paused);
    drop(read);

    // `full` drains, the sender resumes, the stash is routed: `reader` takes
    // its frame, `slow` holds its small one.
    net.unblock(full);
    assert!(!net.router.connection_info(sender).unwrap().paused);
    assert_eq!(net.take_received(reader).len(), 60_001);
    assert_eq!(net.take_received(full).len(), 2001 + 5);
    assert_eq!(net.router.connection_info(slow).unwrap().queued_bytes, 6);

    let held = live_bytes() - before;
    assert_reports_what_it_holds(&net, &conns, held);
    assert!(held < 4096, "a 6-byte frame keeps {held} bytes alive");

    net.unblock(slow);
    assert_eq!(net.take_received(slow).len(), 6);
    assert!(live_bytes() - before <= BOOKKEEPING, "everything is freed");
}

#[test]
fn a_queue_written_but_for_its_last_bytes_reports_what_it_still_allocates() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let slow = net.connect();
    net.block(slow);
    let conns = [sender, slow];
    let before = live_bytes();

    net.send(sender, slow, &[b's'; 60_000]);
    net.allow(slow, 59_990);
    assert_eq!(net.router.connection_info(slow).unwrap().queued_bytes, 11);
    assert_eq!(net.take_received(slow).len(), 59_990);

    let held = live_bytes() - before;
    assert_reports_what_it_holds(&net, &conns, held);
}
