//! `driver_smol::serve` over 127.0.0.1, in smol's own idiom, for what the
//! shared integration suite (`tests/`, every driver, the whole protocol) does
//! not cover: a flood's pause and resume on smol's global executor, a
//! refused config, and that the future can be spawned.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use router_core::{Config, Stats};
use smol::future::FutureExt;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::TcpStream;
use smol::{Async, Task, Timer};

/// The longest any one step may take before the test counts it as hung.
const PATIENCE: Duration = Duration::from_secs(10);

async fn within<F: Future>(what: &str, future: F) -> F::Output {
    future
        .or(async {
            Timer::after(PATIENCE).await;
            panic!("no {what} within {PATIENCE:?}")
        })
        .await
}

/// A router serving 127.0.0.1 on smol's global executor.
struct Running {
    addr: SocketAddr,
    stop: smol::channel::Sender<()>,
    router: Task<io::Result<Stats>>,
}

fn start(config: Config) -> Running {
    let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
    let addr = listener.get_ref().local_addr().unwrap();
    let (stop, stopped) = smol::channel::bounded(1);
    let shutdown = async move {
        let _ = stopped.recv().await;
    };
    let router = smol::spawn(driver_smol::serve(listener, config, shutdown));
    Running { addr, stop, router }
}

impl Running {
    async fn stop(self) -> Stats {
        self.stop.send(()).await.unwrap();
        within("drain", self.router).await.unwrap()
    }
}

async fn read_id(stream: &mut TcpStream) -> u32 {
    let mut id = [0; 4];
    within("ID", stream.read_exact(&mut id)).await.unwrap();
    u32::from_be_bytes(id)
}

fn frame(dest: u32, payload: &[u8]) -> Vec<u8> {
    let mut frame = dest.to_be_bytes().to_vec();
    frame.extend_from_slice(payload);
    frame.push(0);
    frame
}

/// A flood to a destination with a small high-water mark pauses the sender
/// (each 64 KiB read holds more than the mark) and resumes it as the
/// destination reads, with every byte delivered in order.
#[test]
fn a_flood_pauses_and_resumes_its_sender_without_loss() {
    const FRAMES: usize = 4096;
    const PAYLOAD: usize = 1023;
    smol::block_on(async {
        let config = Config {
            outbound_high_water: 8 * 1024,
            outbound_low_water: 2 * 1024,
            ..Config::default()
        };
        let router = start(config);
        let mut sender = TcpStream::connect(router.addr).await.unwrap();
        let mut receiver = TcpStream::connect(router.addr).await.unwrap();
        read_id(&mut sender).await;
        let dest = read_id(&mut receiver).await;

        let payload = |i: usize| vec![b'a' + (i % 26) as u8; PAYLOAD];
        let flood: Vec<u8> = (0..FRAMES).flat_map(|i| frame(dest, &payload(i))).collect();
        let writer = smol::spawn(async move {
            sender.write_all(&flood).await.unwrap();
            sender
        });
        let mut received = vec![0; FRAMES * (PAYLOAD + 1)];
        within("flood", receiver.read_exact(&mut received))
            .await
            .unwrap();
        for (i, delivered) in received.chunks(PAYLOAD + 1).enumerate() {
            assert_eq!(&delivered[..PAYLOAD], &payload(i)[..], "frame {i}");
            assert_eq!(delivered[PAYLOAD], 0);
        }
        drop(within("writer", writer).await);

        let stats = router.stop().await;
        assert_eq!(stats.routed.frames, FRAMES as u64);
        assert!(stats.sender_pauses > 0, "never paused: {stats:?}");
        assert_eq!(stats.dropped_total().frames, 0);
    });
}

#[test]
fn an_inconsistent_config_is_refused() {
    let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
    let config = Config {
        max_connections: 0,
        ..Config::default()
    };
    let serving = driver_smol::serve(listener, config, smol::future::pending());
    let error = smol::block_on(serving).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
}

/// `smol::spawn` needs the future to be `Send`.
#[test]
fn serve_can_be_spawned_on_a_multi_threaded_executor() {
    fn assert_send<T: Send>(_: &T) {}
    let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
    let serving = driver_smol::serve(listener, Config::default(), smol::future::pending());
    assert_send(&serving);
}
