//! Runs the router inside an application's own smol runtime.
//!
//! [`serve`] is an async function: await it, or spawn it, on the executor you
//! already have. It runs as one task that owns the
//! [`Router`](router_core::Router) and every socket, and wakes only for the
//! sockets that became ready, however many sit idle. The design, shared with
//! `driver-tokio`, is described in [`driver_async`]; what is smol's here is
//! how the task waits (`futures_lite::future::race` over the shutdown future,
//! the listener, the ready connections and an async-io `Timer`), how it
//! yields (`futures_lite::future::yield_now`), and how it reads and writes
//! (through `Async::get_ref` on the non-blocking std stream, after
//! `Async::poll_readable` and `poll_writable`).
//!
//! It depends on async-io and futures-lite, which smol re-exports, so it runs
//! on any executor that drives async-io's reactor: `smol::block_on`,
//! `smol::spawn`, `async_io::block_on`.
//!
//! ```
//! use std::net::TcpListener;
//!
//! use router_core::Config;
//! use smol::io::AsyncReadExt;
//! use smol::{Async, net::TcpStream};
//!
//! # fn main() -> std::io::Result<()> {
//! smol::block_on(async {
//!     let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0))?;
//!     let addr = listener.get_ref().local_addr()?;
//!     let (stop, stopped) = smol::channel::bounded::<()>(1);
//!     let shutdown = async move {
//!         let _ = stopped.recv().await;
//!     };
//!     let router = smol::spawn(driver_smol::serve(listener, Config::default(), shutdown));
//!
//!     let mut client = TcpStream::connect(addr).await?;
//!     let mut id = [0; 4];
//!     client.read_exact(&mut id).await?;
//!
//!     stop.send(()).await.expect("the router is running");
//!     let stats = router.await?;
//!     assert_eq!(stats.connections_accepted, 1);
//!     Ok(())
//! })
//! # }
//! ```

mod acceptor;
mod socket;

use std::future::{Future, poll_fn};
use std::io;
use std::net::TcpListener;
use std::pin::pin;
use std::time::Instant;

use async_io::{Async, Timer};
use driver_async::{RouterTask, Wakeup};
use futures_lite::future;
use router_core::{Config, Stats};

use crate::acceptor::Acceptor;

/// Routes for the connections `listener` accepts until `shutdown` completes,
/// then drains: refuses new connections, stops reading, flushes what is
/// queued for up to `config.drain_timeout`, closes everything, and returns
/// the router's final counters.
///
/// Fails at once with `InvalidInput` if `config` is inconsistent. Errors of
/// single connections, and of `accept`, are handled (and logged) without
/// ending the router.
pub async fn serve(
    listener: Async<TcpListener>,
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
    listener: Async<TcpListener>,
    config: Config,
    shutdown: impl Future<Output = ()>,
    mut observer: impl FnMut(&Stats),
) -> io::Result<Stats> {
    let mut task = RouterTask::new(config)?;
    let mut shutdown = pin!(shutdown);
    let mut acceptor = Acceptor::new(listener);
    let mut timer = Timer::never();
    let mut timer_at = None;
    while !task.is_drained() {
        let deadline = task.next_wakeup();
        if deadline != timer_at {
            match deadline {
                Some(at) => timer.set_at(at),
                None => timer.clear(),
            }
            timer_at = deadline;
        }
        // `race` picks at random among the ready ones, so none starves.
        let wakeup = future::race(
            future::race(
                only_if(!task.is_shutting_down(), async {
                    shutdown.as_mut().await;
                    Wakeup::Shutdown
                }),
                only_if(task.is_accepting(), async {
                    Wakeup::Accepted(poll_fn(|cx| acceptor.poll_accept(cx)).await)
                }),
            ),
            future::race(
                async {
                    poll_fn(|cx| task.poll_ready(cx)).await;
                    Wakeup::Ready
                },
                async {
                    (&mut timer).await;
                    Wakeup::Timer
                },
            ),
        )
        .await;
        task.handle(wakeup, Instant::now());
        observer(task.stats());
        if task.has_backlog() {
            future::yield_now().await;
        }
    }
    Ok(task.into_stats())
}

/// `future` if `enabled`, else a future that never completes: a disabled
/// branch of a race.
async fn only_if<T>(enabled: bool, future: impl Future<Output = T>) -> T {
    if !enabled {
        future::pending::<()>().await;
    }
    future.await
}
