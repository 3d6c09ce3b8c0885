//! A single-threaded [mio] driver for [`router_core`]: epoll or kqueue, one
//! thread, no async runtime.
//!
//! The driver only moves bytes. It accepts connections, reads into one 64 KiB
//! scratch buffer shared by every connection, writes what the router offers
//! with vectored writes, and sleeps in the poller until the next readiness
//! event or the router's next deadline. Every decision (routing, pausing a
//! sender, closing a slow consumer, draining on shutdown) is the router's.
//!
//! ```no_run
//! use driver_mio::{Config, Server};
//!
//! let server = Server::bind("127.0.0.1:8080".parse()?, Config::default())?;
//! let shutdown = server.shutdown_handle();
//! // Hand `shutdown` to whatever decides when to stop (a signal handler, a test).
//! # shutdown.shutdown();
//! let stats = server.run()?; // Blocks until the graceful drain completes.
//! println!("{} connections served", stats.connections_accepted);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # How it follows the router
//!
//! - **Reading** stops as soon as [`Router::wants_read`] turns false: a
//!   paused sender's bytes stay in the kernel, whose full buffers close the
//!   TCP window and push back on the client. Its socket stays registered
//!   (edge-triggered, a few spurious wake-ups at most), and it is read again
//!   at once on [`Event::ResumeReading`], since no new edge may come.
//! - **Fairness**: each turn, a connection gets at most 16 reads (1 MiB) and
//!   the listener 256 accepts before the others have their turn.
//! - **Time**: the loop sleeps until [`Router::poll_timeout`] at the latest,
//!   and calls [`Router::handle_timeout`] once its own clock says the
//!   deadline has passed.
//! - **Observing**: an optional stats observer
//!   ([`Server::with_stats_observer`]) is handed the router's counters once
//!   per turn, never per frame; an exporter copies them there.
//! - **Logs**: at debug, each connection's `conn` ID with its `peer` address
//!   when it connects and when it is closed, to join with the router's own
//!   lines (`conn`, `cause`); nothing per frame above trace.
//! - **Running out of descriptors**: an `accept` failing with `EMFILE` or
//!   `ENFILE` pauses accepting for [`Config::accept_pause`] (100 ms by
//!   default), with one warning per 10 s, while open connections keep being
//!   served: the router decides, in [`Router::handle_accept_error`].
//!
//! [`Router::wants_read`]: router_core::Router::wants_read
//! [`Router::poll_timeout`]: router_core::Router::poll_timeout
//! [`Router::handle_timeout`]: router_core::Router::handle_timeout
//! [`Event::ResumeReading`]: router_core::Event::ResumeReading
//! [`Router::handle_accept_error`]: router_core::Router::handle_accept_error
//!
//! # SIGPIPE
//!
//! Writing to a connection the peer has reset raises `SIGPIPE`, whose default
//! action kills the process. On Linux and Android the driver writes with
//! `MSG_NOSIGNAL`, so the write fails with `EPIPE` instead, whatever the host
//! process does with the signal. Elsewhere it relies on the host ignoring
//! `SIGPIPE`, as the Rust runtime does at the start of every Rust binary.

#![forbid(unsafe_code)]

mod event_loop;
mod listener;
mod send;
mod server;
mod stats_observer;

pub use listener::{LISTEN_BACKLOG, listen};
pub use router_core::{Config, Stats};
pub use server::{Server, ShutdownHandle};
