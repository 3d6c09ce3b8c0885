//! A single-threaded [mio] driver for [`router_core`]: epoll or kqueue, one
//! thread, no async runtime.
//!
//! The driver only moves bytes. It accepts connections, reads into one 64 KiB
//! scratch buffer shared by every connection, drives the router
//! ([`Router::drive`]) through its sockets after each read and once at the
//! end of each turn, and sleeps in the poller
//! until the next readiness event or the instant `drive` returned. Every
//! decision (routing, pausing a sender, closing a slow consumer, draining on
//! shutdown, what a failed write means) is the router's.
//!
//! ```
//! use std::io::Read;
//! use std::net::TcpStream;
//! use std::thread;
//!
//! use driver_mio::Server;
//! use router_core::{Config, Router};
//!
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let router = Router::new(Config::default())?;
//! let server = Server::new(listener, router)?;
//! let addr = server.local_addr()?;
//! // Hand `shutdown` to whatever decides when to stop (a signal handler, a test).
//! let shutdown = server.shutdown_handle();
//! let running = thread::spawn(move || server.run()); // Until drained.
//!
//! let mut client = TcpStream::connect(addr)?;
//! let mut id = [0; 4];
//! client.read_exact(&mut id)?;
//!
//! shutdown.shutdown();
//! let stats = running.join().expect("the loop did not panic")?;
//! assert_eq!(stats.connections_accepted, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # How it follows the router
//!
//! - **Reading** stops as soon as [`Router::wants_read`] turns false: a
//!   paused sender's bytes stay in the kernel, whose full buffers close the
//!   TCP window and push back on the client. Its socket stays registered
//!   (edge-triggered, a few spurious wake-ups at most), and it is read again
//!   at once when the router resumes it ([`Io::resume_reading`]), since no
//!   new edge may come.
//! - **Fairness**: each turn, a connection gets at most 16 reads (1 MiB), all
//!   connections together at most 1 MiB, and the listener 256 accepts before
//!   the others have their turn; the router is driven after every read, so
//!   what a flooding client sent leaves in steps of one read.
//! - **Time**: the loop sleeps until the instant [`Router::drive`] returned
//!   at the latest; `drive` checks the clock itself, so a poller that wakes
//!   early or late costs a turn, never a missed deadline.
//! - **Shutdown**: the router tells the loop to close its listener
//!   ([`Io::stop_listening`]), so new clients are refused by the kernel.
//! - **Observing**: an optional stats observer
//!   ([`Server::with_stats_observer`]) is handed the router's counters once
//!   per turn, never per frame; an exporter copies them there.
//! - **Logs**: at debug, each connection's `conn` ID with its `peer` address
//!   when it connects and when it is closed, to join with the router's own
//!   lines (`conn`, `cause`); nothing per frame above trace.
//! - **Running out of descriptors**: an `accept` failing with `EMFILE` or
//!   `ENFILE` pauses accepting for the config's `accept_pause` (100 ms by
//!   default), with one warning per 10 s, while open connections keep being
//!   served: the router decides, in [`Router::handle_accept_error`].
//!
//! [`Router::wants_read`]: router_core::Router::wants_read
//! [`Router::drive`]: router_core::Router::drive
//! [`Io::resume_reading`]: router_core::Io::resume_reading
//! [`Io::stop_listening`]: router_core::Io::stop_listening
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
mod send;
mod server;
mod sockets;
mod stats_observer;

pub use server::{Server, ShutdownHandle};
