//! What publishing the counters costs the event loop: frames per second
//! through driver-mio over loopback, without a stats observer, and with a
//! `StatsCell` publisher plus an endpoint scraped every 100 ms (far more
//! often than any Prometheus would). Two workloads: *bulk* (senders stream
//! 64-byte frames, so a loop turn moves thousands of them) and *ping-pong*
//! (each client sends a frame to itself and waits for it, so a turn moves
//! about one: the worst case for a cost paid per turn).
//!
//! ```text
//! cargo run --release -p router-metrics --example observer_overhead
//! ```
//!
//! Runs alternate between the two setups so that a neighbour's load on the
//! machine falls on both; the median of each is reported, with the loop's
//! turns per second and what one publication costs, whose product bounds the
//! share of the loop's thread the observer takes whatever the noise.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use driver_mio::{Config, Server};
use router_metrics::{MetricsServer, StatsCell};

/// Sender-receiver pairs (bulk), or clients (ping-pong).
const CLIENTS: usize = 4;
const PAYLOAD_BYTES: usize = 64;
/// How long each run measures, after a warm-up.
const MEASURED: Duration = Duration::from_secs(3);
const WARM_UP: Duration = Duration::from_millis(500);
/// A whole run, from the first connection to the shutdown.
const RUN: Duration = WARM_UP.saturating_add(MEASURED);
/// Runs of each setup.
const ROUNDS: usize = 5;
const SCRAPE_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy)]
enum Workload {
    Bulk,
    PingPong,
}

fn main() {
    let publish = publish_cost();
    println!("one publication: {} ns, uncontended", publish.as_nanos());
    for workload in [Workload::Bulk, Workload::PingPong] {
        compare(workload, publish);
    }
}

/// Prints both setups' throughput, and the share of the loop's thread that
/// publishing takes at the turn rate measured: a bound that, unlike the
/// throughput ratio, does not drown in a shared machine's noise.
fn compare(workload: Workload, publish: Duration) {
    let mut plain = Vec::new();
    let mut observed = Vec::new();
    let mut turns = Vec::new();
    for _ in 0..ROUNDS {
        plain.push(frames_per_second(workload, None));
        let turn_count = Arc::new(AtomicU64::new(0));
        observed.push(frames_per_second(workload, Some(turn_count.clone())));
        turns.push(turn_count.load(Ordering::Relaxed) as f64 / RUN.as_secs_f64());
    }
    println!("{workload:?}: without observer {plain:.0?} frames/s");
    println!("{workload:?}: with observer    {observed:.0?} frames/s");
    let (plain, observed, turns) = (median(plain), median(observed), median(turns));
    println!(
        "{workload:?}: median without {plain:.0}, with {observed:.0}: ratio {:.3}; \
         {turns:.0} turns/s, so publishing takes {:.3}% of the loop's thread",
        observed / plain,
        turns * publish.as_secs_f64() * 100.0
    );
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The time one call of a `StatsCell` publisher takes, uncontended.
fn publish_cost() -> Duration {
    const CALLS: u32 = 10_000_000;
    let stats = driver_mio::Stats::default();
    let mut publish = StatsCell::new().publisher();
    let start = Instant::now();
    for _ in 0..CALLS {
        publish(std::hint::black_box(&stats));
    }
    start.elapsed() / CALLS
}

/// Frames per second delivered to clients during one run; with `turns`,
/// publishes to an endpoint and counts the observer's calls.
fn frames_per_second(workload: Workload, turns: Option<Arc<AtomicU64>>) -> f64 {
    let any_port = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let mut server = Server::bind(any_port, Config::default()).unwrap();
    let addr = server.local_addr();
    let shutdown = server.shutdown_handle();
    let mut metrics = None;
    if let Some(turns) = turns {
        let cell = StatsCell::new();
        let mut publish = cell.publisher();
        server = server.with_stats_observer(move |stats: &driver_mio::Stats| {
            turns.fetch_add(1, Ordering::Relaxed);
            publish(stats);
        });
        metrics = Some(MetricsServer::bind(any_port, cell).unwrap());
    }
    let router = thread::spawn(move || server.run().unwrap());

    let stop = Arc::new(AtomicBool::new(false));
    let delivered = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        match workload {
            Workload::Bulk => clients.extend(bulk_pair(addr, &stop, &delivered)),
            Workload::PingPong => clients.push(ping_pong(addr, &stop, &delivered)),
        }
    }
    let scraper = metrics.as_ref().map(|metrics| {
        let (addr, stop) = (metrics.local_addr(), stop.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                scrape(addr);
                thread::sleep(SCRAPE_INTERVAL);
            }
        })
    });

    thread::sleep(WARM_UP);
    let (start, delivered_before) = (Instant::now(), delivered.load(Ordering::Relaxed));
    thread::sleep(MEASURED);
    let frames = delivered.load(Ordering::Relaxed) - delivered_before;
    let elapsed = start.elapsed();

    stop.store(true, Ordering::Relaxed);
    shutdown.shutdown();
    router.join().unwrap();
    for client in clients.into_iter().chain(scraper) {
        client.join().unwrap();
    }
    frames as f64 / elapsed.as_secs_f64()
}

/// A sender streaming frames to a receiver, which counts them.
fn bulk_pair(
    addr: SocketAddr,
    stop: &Arc<AtomicBool>,
    delivered: &Arc<AtomicU64>,
) -> [thread::JoinHandle<()>; 2] {
    let (mut sender, _) = connect(addr);
    let (mut receiver, receiver_id) = connect(addr);
    let frame = frame(receiver_id);
    let batch = frame.repeat(64 * 1024 / frame.len());
    let stop = stop.clone();
    let sending = thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            if sender.write_all(&batch).is_err() {
                break;
            }
        }
    });
    let delivered = delivered.clone();
    let receiving = thread::spawn(move || {
        let mut buffer = vec![0; 64 * 1024];
        let mut partial = 0;
        while let Ok(n @ 1..) = receiver.read(&mut buffer) {
            // Each delivery is the payload and its terminator.
            let bytes = partial + n;
            delivered.fetch_add((bytes / (PAYLOAD_BYTES + 1)) as u64, Ordering::Relaxed);
            partial = bytes % (PAYLOAD_BYTES + 1);
        }
    });
    [sending, receiving]
}

/// A client sending one frame to itself at a time, counting round trips.
fn ping_pong(
    addr: SocketAddr,
    stop: &Arc<AtomicBool>,
    delivered: &Arc<AtomicU64>,
) -> thread::JoinHandle<()> {
    let (mut client, id) = connect(addr);
    client.set_nodelay(true).unwrap();
    let frame = frame(id);
    let (stop, delivered) = (stop.clone(), delivered.clone());
    thread::spawn(move || {
        let mut echo = vec![0; PAYLOAD_BYTES + 1];
        while !stop.load(Ordering::Relaxed) {
            if client.write_all(&frame).is_err() || client.read_exact(&mut echo).is_err() {
                break;
            }
            delivered.fetch_add(1, Ordering::Relaxed);
        }
    })
}

fn frame(dest: u32) -> Vec<u8> {
    let mut frame = dest.to_be_bytes().to_vec();
    frame.extend_from_slice(&[b'x'; PAYLOAD_BYTES]);
    frame.push(0);
    frame
}

/// A client that has read its ID; reads and writes give up after a while, so
/// that a run cannot hang.
fn connect(addr: SocketAddr) -> (TcpStream, u32) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut id = [0; 4];
    stream.read_exact(&mut id).unwrap();
    (stream, u32::from_be_bytes(id))
}

fn scrape(addr: SocketAddr) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}
