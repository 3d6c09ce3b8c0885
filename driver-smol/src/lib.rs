//! Runs the router inside an application's own smol runtime.
//!
//! [`Server::run`] is an async function: await it, or spawn it, on the
//! executor you already have. It runs as one task that owns the
//! [`Router`](router_core::Router) and every socket, and wakes only for the
//! sockets that became ready, however many sit idle. The loop is
//! [`driver_async`]'s, the same for every runtime; what is smol's here is
//! only the [`Runtime`](driver_async::Runtime) it runs on: the listener
//! ([`Acceptor`], which waits for the reactor before calling `accept`), the
//! timer (an async-io `Timer`), and the stream ([`SmolSocket`]: reads and
//! writes straight on the non-blocking std stream, after `Async`'s
//! `poll_readable` and `poll_writable`).
//!
//! It depends on async-io, which smol re-exports, so it runs on any executor
//! that drives async-io's reactor: `smol::block_on`, `smol::spawn`,
//! `async_io::block_on`.
//!
//! ```
//! use router_core::{Config, Router};
//! use smol::io::AsyncReadExt;
//! use smol::net::TcpStream;
//!
//! # fn main() -> std::io::Result<()> {
//! smol::block_on(async {
//!     let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//!     let router = Router::new(Config::default()).expect("a valid config");
//!     let server = driver_smol::Server::new(listener, router)?;
//!     let addr = server.local_addr()?;
//!     // In a server, a signal handler would call `shutdown()`.
//!     let shutdown = server.shutdown_handle();
//!     let running = smol::spawn(server.run());
//!
//!     let mut client = TcpStream::connect(addr).await?;
//!     let mut id = [0; 4];
//!     client.read_exact(&mut id).await?;
//!
//!     shutdown.shutdown();
//!     let stats = running.await?;
//!     assert_eq!(stats.connections_accepted, 1);
//!     Ok(())
//! })
//! # }
//! ```

mod acceptor;
mod runtime;
mod socket;

pub use acceptor::Acceptor;
pub use driver_async::ShutdownHandle;
pub use runtime::{Smol, SmolTimer};
pub use socket::SmolSocket;

/// A router serving a TCP listener as one task of smol's reactor: see
/// [`driver_async::Server`] for its methods.
pub type Server = driver_async::Server<Smol>;
