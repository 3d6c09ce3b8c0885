//! The busy pair's two workloads, and what a round of each measures.

use std::fs;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// The longest a single read or write may block before the run counts as hung.
const PATIENCE: Duration = Duration::from_secs(30);

/// What the busy pair does in a round.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Workload {
    /// One client streams this many bytes of 1 KiB frames to the other:
    /// the router reads and writes in large batches, few wake-ups per byte.
    Stream { bytes: usize },
    /// The two bounce one 32-byte frame back and forth this many times:
    /// every frame is a wake-up of the router, so any work it does per
    /// wake-up shows.
    PingPong { round_trips: usize },
}

/// What one round measured (or a median, or a ratio, of such figures).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Round {
    /// Units of work done per second: MiB streamed, or round trips.
    pub(crate) rate: f64,
    /// CPU time spent by every thread of this process but the clients' (the
    /// routers and their reactors) per unit of work, in µs.
    pub(crate) cpu_us: f64,
}

impl Workload {
    /// What [`Round::rate`] counts, and what [`Round::cpu_us`] is per.
    pub(crate) fn units(self) -> (&'static str, &'static str) {
        match self {
            Workload::Stream { .. } => ("MiB/s", "µs/MiB"),
            Workload::PingPong { .. } => ("round trips/s", "µs/trip"),
        }
    }

    /// Runs one round between two new clients of the router at `addr`, one
    /// on a thread of its own, one on this one.
    pub(crate) fn round(self, addr: SocketAddr) -> io::Result<Round> {
        let (mut a, a_id) = connect(addr)?;
        let (mut b, b_id) = connect(addr)?;
        let cpu_before = router_cpu_time()?;
        let start = Instant::now();
        let units = match self {
            Workload::Stream { bytes } => {
                let writes = bytes / STREAM_BATCH_BYTES;
                let peer = thread::spawn(move || stream_frames(&mut a, b_id, writes));
                read_exactly(&mut b, writes * STREAM_BATCH_BYTES)?;
                peer.join().expect("the sender panicked")?;
                (writes * STREAM_BATCH_BYTES) as f64 / (1 << 20) as f64
            }
            Workload::PingPong { round_trips } => {
                let peer = thread::spawn(move || bounce(&mut b, a_id, round_trips));
                let ping = frame(b_id, &[b'p'; PING_PAYLOAD])?;
                let mut pong = [0; PING_PAYLOAD + 1];
                for _ in 0..round_trips {
                    a.write_all(&ping)?;
                    a.read_exact(&mut pong)?;
                }
                peer.join().expect("the bouncer panicked")?;
                round_trips as f64
            }
        };
        let elapsed = start.elapsed();
        // The peer's thread is gone, so it is not counted.
        let cpu = router_cpu_time()? - cpu_before;
        Ok(Round {
            rate: units / elapsed.as_secs_f64(),
            cpu_us: cpu.as_secs_f64() * 1e6 / units,
        })
    }
}

impl Round {
    pub(crate) fn ratio_to(&self, base: &Round) -> Round {
        Round {
            rate: self.rate / base.rate,
            cpu_us: self.cpu_us / base.cpu_us,
        }
    }

    pub(crate) fn median(rounds: Vec<Round>) -> Round {
        let median = |figure: fn(&Round) -> f64| {
            let mut figures: Vec<f64> = rounds.iter().map(figure).collect();
            figures.sort_by(f64::total_cmp);
            figures[figures.len() / 2]
        };
        Round {
            rate: median(|r| r.rate),
            cpu_us: median(|r| r.cpu_us),
        }
    }
}

/// Payload of a streamed frame: with its terminator, 1 KiB delivered.
const STREAM_PAYLOAD: usize = 1023;
/// Frames per write of the streaming sender.
const STREAM_FRAMES_PER_WRITE: usize = 64;
/// Bytes delivered per write of the streaming sender.
const STREAM_BATCH_BYTES: usize = (STREAM_PAYLOAD + 1) * STREAM_FRAMES_PER_WRITE;
/// Payload of a ping or a pong.
const PING_PAYLOAD: usize = 32;

/// A connected client and the ID the router gave it.
pub(crate) fn connect(addr: SocketAddr) -> io::Result<(TcpStream, u32)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(PATIENCE))?;
    stream.set_write_timeout(Some(PATIENCE))?;
    stream.set_nodelay(true)?;
    let mut id = [0; 4];
    stream.read_exact(&mut id)?;
    Ok((stream, u32::from_be_bytes(id)))
}

/// One frame to `dest`, as `router-client` encodes it.
fn frame(dest: u32, payload: &[u8]) -> io::Result<Vec<u8>> {
    let mut frame = Vec::new();
    router_client::encode_frame(dest, payload, &mut frame)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
    Ok(frame)
}

fn stream_frames(sender: &mut TcpStream, dest: u32, writes: usize) -> io::Result<()> {
    let batch = frame(dest, &[b'x'; STREAM_PAYLOAD])?.repeat(STREAM_FRAMES_PER_WRITE);
    for _ in 0..writes {
        sender.write_all(&batch)?;
    }
    Ok(())
}

fn read_exactly(receiver: &mut TcpStream, mut remaining: usize) -> io::Result<()> {
    let mut buf = vec![0; 256 * 1024];
    while remaining > 0 {
        let want = remaining.min(buf.len());
        match receiver.read(&mut buf[..want])? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => remaining -= n,
        }
    }
    Ok(())
}

/// Answers each ping with a pong to `dest`.
fn bounce(client: &mut TcpStream, dest: u32, round_trips: usize) -> io::Result<()> {
    let pong = frame(dest, &[b'q'; PING_PAYLOAD])?;
    let mut ping = [0; PING_PAYLOAD + 1];
    for _ in 0..round_trips {
        client.read_exact(&mut ping)?;
        client.write_all(&pong)?;
    }
    Ok(())
}

/// CPU time of every live thread of this process but the calling one:
/// between rounds, the routers' threads and their reactors'.
fn router_cpu_time() -> io::Result<Duration> {
    let me = fs::read_link("/proc/thread-self")?;
    let me = me.file_name().expect("/proc/thread-self names a task");
    let mut nanos = 0;
    for task in fs::read_dir("/proc/self/task")? {
        let task = task?;
        if task.file_name() == me {
            continue;
        }
        // A thread that ended meanwhile has no schedstat left: skip it.
        if let Ok(schedstat) = fs::read_to_string(task.path().join("schedstat")) {
            let on_cpu: u64 = schedstat
                .split_whitespace()
                .next()
                .and_then(|field| field.parse().ok())
                .unwrap_or(0);
            nanos += on_cpu;
        }
    }
    Ok(Duration::from_nanos(nanos))
}
