//! Runs the router inside an application's own tokio runtime.
//!
//! [`Server::run`] is an async function: await it, or spawn it, on the
//! runtime you already have. It runs as one task that owns the
//! [`Router`](router_core::Router) and every socket, and wakes only for the
//! sockets that became ready, however many sit idle. The loop is
//! [`driver_async`]'s, the same for every runtime; what is tokio's here is
//! only the [`Runtime`](driver_async::Runtime) it runs on: the listener
//! (`TcpListener::poll_accept`), the timer (a `Sleep`, re-armed when the
//! deadline moves), and the stream ([`TokioSocket`]: `AsyncRead::poll_read`,
//! which skips the `recv` that would say `WouldBlock` after a read that
//! drained the socket; `try_write_vectored`, `poll_write_ready`).
//!
//! The runtime needs its IO and time drivers (`enable_all`); a current-thread
//! runtime is enough, since the router is one task.
//!
//! ```
//! use router_core::{Config, Router};
//! use tokio::io::AsyncReadExt;
//! use tokio::net::TcpStream;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let router = Router::new(Config::default()).expect("a valid config");
//! let server = driver_tokio::Server::new(listener, router)?;
//! let addr = server.local_addr()?;
//! // In a server, a signal handler would call `shutdown()`.
//! let shutdown = server.shutdown_handle();
//! let running = tokio::spawn(server.run());
//!
//! let mut client = TcpStream::connect(addr).await?;
//! let id = client.read_u32().await?;
//!
//! shutdown.shutdown();
//! let stats = running.await.expect("the router task ran")?;
//! assert_eq!(stats.connections_accepted, 1);
//! # let _ = id;
//! # Ok(())
//! # }
//! ```

mod runtime;
mod socket;

pub use driver_async::ShutdownHandle;
pub use runtime::{Tokio, TokioListener, TokioTimer};
pub use socket::TokioSocket;

/// A router serving a TCP listener as one task of a tokio runtime: see
/// [`driver_async::Server`] for its methods.
pub type Server = driver_async::Server<Tokio>;
