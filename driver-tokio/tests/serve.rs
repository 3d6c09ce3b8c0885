//! `driver_tokio::serve` over 127.0.0.1, in tokio's own idiom, for what the
//! shared integration suite (`tests/`, every driver, the whole protocol) does
//! not cover: a flood's pause and resume on a multi-threaded executor, a
//! refused config, and that the future can be spawned.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use router_core::{Config, Stats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// The longest any one step may take before the test counts it as hung.
const PATIENCE: Duration = Duration::from_secs(10);

async fn within<F: Future>(what: &str, future: F) -> F::Output {
    timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("no {what} within {PATIENCE:?}"))
}

/// A router serving 127.0.0.1 in a task of the test's runtime.
struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    router: JoinHandle<io::Result<Stats>>,
}

async fn start(config: Config) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel();
    let shutdown = async {
        let _ = stopped.await;
    };
    let router = tokio::spawn(driver_tokio::serve(listener, config, shutdown));
    Running { addr, stop, router }
}

impl Running {
    async fn stop(self) -> Stats {
        self.stop.send(()).unwrap();
        within("drain", self.router).await.unwrap().unwrap()
    }
}

fn frame(dest: u32, payload: &[u8]) -> Vec<u8> {
    let mut frame = dest.to_be_bytes().to_vec();
    frame.extend_from_slice(payload);
    frame.push(0);
    frame
}

/// A flood to a destination with a small high-water mark pauses the sender
/// (each 64 KiB read holds more than the mark) and resumes it as the
/// destination reads, with every byte delivered in order. On a multi-threaded
/// runtime, so that connections are woken from other threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_pauses_and_resumes_its_sender_without_loss() {
    const FRAMES: usize = 4096;
    const PAYLOAD: usize = 1023;
    let config = Config {
        outbound_high_water: 8 * 1024,
        outbound_low_water: 2 * 1024,
        ..Config::default()
    };
    let router = start(config).await;
    let mut sender = TcpStream::connect(router.addr).await.unwrap();
    let mut receiver = TcpStream::connect(router.addr).await.unwrap();
    within("ID", sender.read_u32()).await.unwrap();
    let dest = within("ID", receiver.read_u32()).await.unwrap();

    let payload = |i: usize| vec![b'a' + (i % 26) as u8; PAYLOAD];
    let flood: Vec<u8> = (0..FRAMES).flat_map(|i| frame(dest, &payload(i))).collect();
    let writer = tokio::spawn(async move {
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
    drop(within("writer", writer).await.unwrap());

    let stats = router.stop().await;
    assert_eq!(stats.routed.frames, FRAMES as u64);
    assert!(stats.sender_pauses > 0, "never paused: {stats:?}");
    assert_eq!(stats.dropped_total().frames, 0);
}

#[tokio::test]
async fn an_inconsistent_config_is_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = Config {
        max_connections: 0,
        ..Config::default()
    };
    let error = driver_tokio::serve(listener, config, std::future::pending())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
}

/// A multi-threaded runtime's `spawn` needs the future to be `Send`.
#[test]
fn serve_can_be_spawned_on_any_runtime() {
    fn assert_send<T: Send>(_: &T) {}
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let serving = driver_tokio::serve(listener, Config::default(), std::future::pending());
    assert_send(&serving);
}
