//! Runs the router inside an application's own tokio runtime.
//!
//! [`serve`] is an async function: await it, or spawn it, on the runtime you
//! already have. It runs as one task that owns the
//! [`Router`](router_core::Router) and every socket, and wakes only for the
//! sockets that became ready, however many sit idle. The design, shared with
//! `driver-smol`, is described in [`driver_async`]; what is tokio's here is
//! how the task waits (`tokio::select!` over the shutdown future, the
//! listener, the ready connections and a `Sleep`), how it yields
//! (`tokio::task::yield_now`, which also renews its cooperative budget), and
//! how it reads and writes (`TcpStream::try_read`, `try_write_vectored`,
//! `poll_read_ready`, `poll_write_ready`).
//!
//! The runtime needs its IO and time drivers (`enable_all`); a current-thread
//! runtime is enough, since the router is one task.
//!
//! ```
//! use router_core::Config;
//! use tokio::io::AsyncReadExt;
//! use tokio::net::{TcpListener, TcpStream};
//! use tokio::sync::oneshot;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let listener = TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let (stop, stopped) = oneshot::channel::<()>();
//! // In a server, the shutdown future would be `tokio::signal::ctrl_c()`.
//! let shutdown = async {
//!     let _ = stopped.await;
//! };
//! let router = tokio::spawn(driver_tokio::serve(listener, Config::default(), shutdown));
//!
//! let mut client = TcpStream::connect(addr).await?;
//! let id = client.read_u32().await?;
//!
//! stop.send(()).expect("the router is running");
//! let stats = router.await.expect("the router task ran")?;
//! assert_eq!(stats.connections_accepted, 1);
//! # let _ = id;
//! # Ok(())
//! # }
//! ```

mod socket;

use std::future::{Future, poll_fn};
use std::io;
use std::pin::pin;
use std::time::Instant;

use driver_async::{RouterTask, Wakeup};
use router_core::{Config, Stats};
use tokio::net::TcpListener;
use tokio::time;

use crate::socket::TokioSocket;

/// Routes for the connections `listener` accepts until `shutdown` completes,
/// then drains: refuses new connections, stops reading, flushes what is
/// queued for up to `config.drain_timeout`, closes everything, and returns
/// the router's final counters.
///
/// Fails at once with `InvalidInput` if `config` is inconsistent. Errors of
/// single connections, and of `accept`, are handled (and logged) without
/// ending the router.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> io::Result<Stats> {
    serve_with_stats_observer(listener, config, shutdown, |_| {}).await
}

/// As [`serve`], handing the router's counters to `observer` after every turn
/// of the loop, for example to publish them to a metrics endpoint
/// (`router_metrics::StatsCell::publisher`). A turn already costs at least one
/// system call, and the observer is never called per frame; it runs on the
/// router's task, so it must be quick and must not block.
pub async fn serve_with_stats_observer(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
    mut observer: impl FnMut(&Stats),
) -> io::Result<Stats> {
    let mut task = RouterTask::new(config)?;
    let mut shutdown = pin!(shutdown);
    // Armed before each wait that has a deadline.
    let mut timer = pin!(time::sleep_until(time::Instant::now()));
    while !task.is_drained() {
        let deadline = task.next_wakeup().map(time::Instant::from_std);
        if let Some(deadline) = deadline.filter(|&at| at != timer.deadline()) {
            timer.as_mut().reset(deadline);
        }
        let wakeup = tokio::select! {
            () = &mut shutdown, if !task.is_shutting_down() => Wakeup::Shutdown,
            accepted = listener.accept(), if task.is_accepting() => {
                Wakeup::Accepted(accepted.map(|(stream, peer)| (TokioSocket::new(stream), peer)))
            }
            () = poll_fn(|cx| task.poll_ready(cx)) => Wakeup::Ready,
            () = &mut timer, if deadline.is_some() => Wakeup::Timer,
        };
        task.handle(wakeup, Instant::now());
        observer(task.stats());
        if task.has_backlog() {
            tokio::task::yield_now().await;
        }
    }
    Ok(task.into_stats())
}
