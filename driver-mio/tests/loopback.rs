//! The event loop over real sockets on 127.0.0.1: accept, read, write,
//! timers, back-pressure and shutdown, each through the public API.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use driver_mio::{Config, Server, ShutdownHandle, Stats};
use router_core::CloseCause;

/// Any single step of a test that takes longer than this has failed.
const PATIENCE: Duration = Duration::from_secs(10);

struct Running {
    addr: SocketAddr,
    shutdown: ShutdownHandle,
    thread: JoinHandle<io::Result<Stats>>,
}

impl Running {
    fn start(config: Config) -> Running {
        let server = Server::bind("127.0.0.1:0".parse().unwrap(), config).unwrap();
        let addr = server.local_addr();
        let shutdown = server.shutdown_handle();
        let thread = thread::spawn(move || server.run());
        Running {
            addr,
            shutdown,
            thread,
        }
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_write_timeout(Some(PATIENCE)).unwrap();
        stream
    }

    /// Connects and reads the ID the router sends first.
    fn client(&self) -> (TcpStream, u32) {
        let mut stream = self.connect();
        let mut id = [0; 4];
        stream.read_exact(&mut id).unwrap();
        (stream, u32::from_be_bytes(id))
    }

    fn stop(self) -> Stats {
        self.shutdown.shutdown();
        self.thread.join().unwrap().unwrap()
    }
}

fn frame(dest: u32, payload: &[u8]) -> Vec<u8> {
    let mut frame = dest.to_be_bytes().to_vec();
    frame.extend_from_slice(payload);
    frame.push(0);
    frame
}

/// Reads until the peer closes; fails on a timeout.
fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    match stream.read_to_end(&mut received) {
        Ok(_) => {}
        // A close with unread bytes in the router's buffer arrives as a reset.
        Err(error) if error.kind() == ErrorKind::ConnectionReset => {}
        Err(error) => panic!("expected the router to close the connection: {error}"),
    }
    received
}

#[test]
fn reference_exchange_then_shutdown_returns_the_counters() {
    let running = Running::start(Config::default());
    let (mut sock1, id1) = running.client();
    let (mut sock2, id2) = running.client();
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

    let stats = running.stop();
    assert_eq!(stats.connections_accepted, 2);
    assert_eq!(stats.routed.frames, 2);
    assert_eq!(stats.bytes_written, 4 + 4 + 16 + 21);
    assert_eq!(stats.closed(CloseCause::Shutdown), 2);
    assert_eq!(stats.connections_open, 0);
    // Shutdown closed both connections after flushing.
    assert!(read_to_close(&mut sock1).is_empty());
    assert!(read_to_close(&mut sock2).is_empty());
}

#[test]
fn shutdown_before_run_returns_at_once_and_refuses_connections() {
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), Config::default()).unwrap();
    let addr = server.local_addr();
    server.shutdown_handle().shutdown();
    let stats = server.run().unwrap();
    assert_eq!(stats.connections_accepted, 0);
    assert!(TcpStream::connect(addr).is_err(), "the listener is closed");
}

#[test]
fn bind_rejects_an_invalid_config() {
    let config = Config {
        outbound_low_water: 2,
        outbound_high_water: 1,
        ..Config::default()
    };
    let error = Server::bind("127.0.0.1:0".parse().unwrap(), config).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(error.to_string().contains("outbound_low_water"), "{error}");
}

#[test]
fn fragments_and_batches_are_reassembled() {
    let running = Running::start(Config::default());
    let (mut sender, _) = running.client();
    let (mut receiver, receiver_id) = running.client();
    let mut stream = frame(receiver_id, b"one");
    stream.extend(frame(receiver_id, b""));
    stream.extend(frame(receiver_id, b"three"));
    for byte in &stream[..7] {
        sender.write_all(&[*byte]).unwrap();
    }
    sender.write_all(&stream[7..]).unwrap();
    let mut buf = [0; 11];
    receiver.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"one\0\0three\0");
    assert_eq!(running.stop().routed.frames, 3);
}

#[test]
fn eof_delivers_what_was_sent_then_closes() {
    let running = Running::start(Config::default());
    let (mut client, id) = running.client();
    let mut bytes = frame(id, b"to myself");
    bytes.extend_from_slice(&id.to_be_bytes()[..2]); // A partial frame, discarded.
    client.write_all(&bytes).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_close(&mut client), b"to myself\0");
    let stats = running.stop();
    assert_eq!(stats.closed(CloseCause::Eof), 1);
}

#[test]
fn a_reset_sender_still_delivers_what_it_sent_and_others_go_on() {
    let running = Running::start(Config::default());
    let (sender, _) = running.client();
    let (mut receiver, receiver_id) = running.client();
    (&sender)
        .write_all(&frame(receiver_id, b"last words"))
        .unwrap();
    // Linger 0: closing sends a reset instead of a FIN.
    socket2::SockRef::from(&sender)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(sender);
    let mut buf = [0; 11];
    receiver.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"last words\0");
    receiver
        .write_all(&frame(receiver_id, b"still here"))
        .unwrap();
    receiver.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"still here\0");
    let stats = running.stop();
    assert_eq!(stats.routed.frames, 2);
}

#[test]
fn idle_connections_are_closed_by_the_timer() {
    let running = Running::start(Config {
        idle_timeout: Some(Duration::from_millis(50)),
        ..Config::default()
    });
    let start = Instant::now();
    let (mut client, _) = running.client();
    assert!(read_to_close(&mut client).is_empty());
    assert!(start.elapsed() >= Duration::from_millis(50));
    let stats = running.stop();
    assert_eq!(stats.closed(CloseCause::Idle), 1);
}

#[test]
fn connections_past_the_limit_are_closed_without_an_id() {
    let running = Running::start(Config {
        max_connections: 1,
        ..Config::default()
    });
    let (_first, _) = running.client();
    let mut second = running.connect();
    assert!(read_to_close(&mut second).is_empty());
    let stats = running.stop();
    assert_eq!(stats.connections_accepted, 1);
    assert_eq!(stats.connections_refused, 1);
}

/// A destination that does not read makes the router stop reading its sender
/// (the sender's writes block: the kernel's buffers push back), and once it
/// reads, every byte arrives, in order.
#[test]
fn a_paused_sender_is_pushed_back_on_then_resumed_losslessly() {
    const FRAME_PAYLOAD: usize = 1000;
    const FRAMES: usize = 64 * 1024; // 64 MiB: more than every buffer on the path.
    let running = Running::start(Config {
        outbound_high_water: 64 * 1024,
        outbound_low_water: 16 * 1024,
        ..Config::default()
    });
    let (mut sender, _) = running.client();
    let (mut receiver, receiver_id) = running.client();

    let (blocked_tx, blocked_rx) = mpsc::channel();
    let writer = thread::spawn(move || {
        // A short timeout tells the writer that its writes stopped going through.
        sender
            .set_write_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut blocked_tx = Some(blocked_tx);
        let started = Instant::now();
        for i in 0..FRAMES {
            let payload = vec![b'a' + (i % 26) as u8; FRAME_PAYLOAD];
            let bytes = frame(receiver_id, &payload);
            let mut written = 0;
            while written < bytes.len() {
                assert!(started.elapsed() < 6 * PATIENCE, "writer made no progress");
                match sender.write(&bytes[written..]) {
                    Ok(n) => written += n,
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        if let Some(tx) = blocked_tx.take() {
                            tx.send(()).unwrap();
                        }
                    }
                    Err(e) => panic!("write failed: {e}"),
                }
            }
        }
        sender
    });

    blocked_rx
        .recv_timeout(3 * PATIENCE)
        .expect("the sender was never pushed back on");
    let mut payload = vec![0; FRAME_PAYLOAD + 1];
    for i in 0..FRAMES {
        receiver.read_exact(&mut payload).unwrap();
        let expected = b'a' + (i % 26) as u8;
        assert!(
            payload[..FRAME_PAYLOAD].iter().all(|&b| b == expected) && payload[FRAME_PAYLOAD] == 0,
            "frame {i} corrupted"
        );
    }
    let _sender = writer.join().unwrap();
    let stats = running.stop();
    assert_eq!(stats.routed.frames, FRAMES as u64);
    assert_eq!(stats.dropped_total().frames, 0);
}

#[test]
fn the_shutdown_handle_can_be_shared_across_threads() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<ShutdownHandle>();
}

#[test]
fn the_stats_observer_follows_the_counters_and_sees_the_final_ones_last() {
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), Config::default()).unwrap();
    let addr = server.local_addr();
    let shutdown = server.shutdown_handle();
    let (observed, observations) = mpsc::channel();
    let server = server.with_stats_observer(move |stats: &Stats| {
        let _ = observed.send(stats.clone());
    });
    let thread = thread::spawn(move || server.run());

    let mut client = TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut id = [0; 4];
    client.read_exact(&mut id).unwrap();
    // The turn that accepted the client ends with a call that counts it.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let stats = observations
            .recv_timeout(remaining)
            .expect("an observation");
        if stats.connections_accepted == 1 {
            assert_eq!(stats.connections_open, 1);
            break;
        }
    }

    shutdown.shutdown();
    let stats = thread.join().unwrap().unwrap();
    let last = observations
        .try_iter()
        .last()
        .expect("calls during the drain");
    assert_eq!(last, stats);
    assert_eq!(last.closed(CloseCause::Shutdown), 1);
}
