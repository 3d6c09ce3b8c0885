//! The `poll(2)` loop over 127.0.0.1, with blocking std clients: the
//! protocol's reference exchange, the timer, and pause and resume under a
//! flood, each ended by a drain that returns the counters.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use router_core::{CloseCause, Config, Router, Stats};
use router_tests::frame;
use std_loop::{Server, ShutdownHandle};

/// The longest any one step may take before the test counts it as hung.
const PATIENCE: Duration = Duration::from_secs(10);

/// The loop running on its own thread.
struct Running {
    addr: SocketAddr,
    shutdown: ShutdownHandle,
    finished: mpsc::Receiver<io::Result<Stats>>,
}

fn start(config: Config) -> Running {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let server = Server::new(listener, Router::new(config).unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let shutdown = server.shutdown_handle();
    let (report, finished) = mpsc::channel();
    thread::spawn(move || {
        // The test may have given up waiting: nobody to tell then.
        let _ = report.send(server.run());
    });
    Running {
        addr,
        shutdown,
        finished,
    }
}

impl Running {
    fn stop(self) -> Stats {
        self.shutdown.shutdown();
        let result = self.finished.recv_timeout(PATIENCE).expect("no drain");
        result.unwrap()
    }

    /// A client whose every read gives up after [`PATIENCE`].
    fn connect(&self) -> (TcpStream, u32) {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut id = [0; 4];
        stream.read_exact(&mut id).unwrap();
        (stream, u32::from_be_bytes(id))
    }
}

#[test]
fn the_reference_exchange_round_trips_and_shutdown_returns_the_counters() {
    let router = start(Config::default());
    let (mut sock1, id1) = router.connect();
    let (mut sock2, id2) = router.connect();
    assert_ne!(id1, id2);

    sock1.write_all(&frame(id2, b"hello, number 2")).unwrap();
    let mut buf = [0; 16];
    sock2.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello, number 2\0");

    sock2
        .write_all(&frame(id1, b"hello back, number 1"))
        .unwrap();
    let mut buf = [0; 21];
    sock1.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello back, number 1\0");

    let stats = router.stop();
    assert_eq!(stats.connections_accepted, 2);
    assert_eq!(stats.routed.frames, 2);
    assert_eq!(stats.bytes_written, 4 + 4 + 16 + 21);
    assert_eq!(stats.closed(CloseCause::Shutdown), 2);
    // The clients see the close.
    assert_eq!(sock1.read(&mut buf).unwrap(), 0);
}

#[test]
fn the_idle_timer_closes_a_silent_connection() {
    let router = start(Config {
        idle_timeout: Some(Duration::from_millis(50)),
        ..Config::default()
    });
    let (mut client, _) = router.connect();
    assert_eq!(client.read(&mut [0; 1]).unwrap(), 0);
    assert_eq!(router.stop().closed(CloseCause::Idle), 1);
}

/// A flood to a destination with a small high-water mark pauses the sender
/// (each 64 KiB read holds more than the mark), which leaves it out of the
/// poll set until the destination drains, with every byte delivered in order.
#[test]
fn a_flood_pauses_and_resumes_its_sender_without_loss() {
    const FRAMES: usize = 4096;
    const PAYLOAD: usize = 1023;
    let router = start(Config {
        outbound_high_water: 8 * 1024,
        outbound_low_water: 2 * 1024,
        ..Config::default()
    });
    let (mut sender, _) = router.connect();
    let (mut receiver, dest) = router.connect();

    let payload = |i: usize| vec![b'a' + (i % 26) as u8; PAYLOAD];
    let flood: Vec<u8> = (0..FRAMES).flat_map(|i| frame(dest, &payload(i))).collect();
    let writer = thread::spawn(move || sender.write_all(&flood));
    let mut received = vec![0; FRAMES * (PAYLOAD + 1)];
    receiver.read_exact(&mut received).unwrap();
    for (i, delivered) in received.chunks(PAYLOAD + 1).enumerate() {
        assert_eq!(&delivered[..PAYLOAD], &payload(i)[..], "frame {i}");
        assert_eq!(delivered[PAYLOAD], 0);
    }
    writer.join().unwrap().unwrap();

    let stats = router.stop();
    assert_eq!(stats.routed.frames, FRAMES as u64);
    assert!(stats.sender_pauses > 0, "never paused: {stats:?}");
    assert_eq!(stats.dropped_total().frames, 0);
}
