//! Memory: an idle connection holds no buffer, whatever it did before, so
//! that 100 000 idle connections cost only their fixed-size state.

use router_core::{Config, ConnHandle};

use crate::support::{Net, frame};

fn heap_bytes(net: &Net, conn: ConnHandle) -> usize {
    net.router.connection_info(conn).unwrap().heap_bytes
}

#[test]
fn an_idle_connection_holds_no_buffer_once_its_id_is_written() {
    let mut net = Net::new(Config::default());
    let unread = net.accept_blocked();
    assert!(heap_bytes(&net, unread) >= 4, "the ID waits in a buffer");
    net.unblock(unread);
    assert_eq!(heap_bytes(&net, unread), 0);
}

#[test]
fn a_destination_holds_no_buffer_once_a_burst_to_it_is_written() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let receiver = net.connect();
    net.block(receiver);
    let burst: Vec<u8> = (0..64)
        .flat_map(|_| frame(receiver, &[b'b'; 1024]))
        .collect();
    net.input(sender, &burst[..burst.len() / 2 + 3]);
    net.input(sender, &burst[burst.len() / 2 + 3..]);
    assert!(heap_bytes(&net, receiver) >= 64 * 1025);
    net.allow(receiver, 1000);
    assert!(heap_bytes(&net, receiver) > 0, "still partly queued");
    net.unblock(receiver);
    assert_eq!(net.received(receiver).len(), 64 * 1025);
    assert_eq!(heap_bytes(&net, receiver), 0);
}

#[test]
fn a_sender_holds_no_buffer_once_its_split_frame_is_complete() {
    let mut net = Net::new(Config::default());
    let sender = net.connect();
    let receiver = net.connect();
    let bytes = frame(receiver, &[b's'; 4000]);
    net.input(sender, &bytes[..2000]);
    assert!(
        heap_bytes(&net, sender) >= 2000,
        "the partial frame is buffered"
    );
    net.input(sender, &bytes[2000..]);
    assert_eq!(heap_bytes(&net, sender), 0);
    assert_eq!(heap_bytes(&net, receiver), 0);
    assert_eq!(net.received(receiver).len(), 4001);
}
