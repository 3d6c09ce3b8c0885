//! A client for the router: the wire protocol of PROTOCOL.md, once, for every
//! program that talks to a router.
//!
//! Three layers, each usable alone:
//!
//! - **The protocol, with no IO** ([`encode_frame`], [`Encoder`], [`Decoder`]):
//!   what to write to send a payload, and what the bytes read from the router
//!   mean: the connection's ID, then each delivered payload, from any
//!   fragmentation. No sockets, no clock, no runtime: drive it from any event
//!   loop, or feed it byte slices in a test.
//! - **A blocking client** ([`blocking::Client`]) over [`std::net::TcpStream`].
//! - **An async client for tokio** (`tokio::Client`, with the feature `tokio`).
//! - **TLS** for both (feature `tls`): `connect_tls`, and `tls::client_config`
//!   to build the rustls config from PEM files.
//!
//! Both clients have the same shape: `connect(addr)`, `id()`,
//! `send(dest, payload)`, `recv()` (the next payload, without its `0x00`
//! terminator; `None` once the router closed the connection), `try_send`
//! (never waits), `close()`, and `split()` into a `Sender` and a `Receiver`.
//!
//! **Payloads.** Any bytes but `0x00`, which the protocol reserves as the
//! terminator. A payload that contains one is refused with
//! [`PayloadError`] before anything is written: it is never truncated.
//!
//! **Backpressure** is the socket's. When a destination is full the router
//! stops reading its sender; `send` then blocks (or waits, async) until the
//! router reads again. `try_send` reports [`TrySendError::Full`] instead, for
//! senders that prefer to drop. A frame is never cut on the wire, whether a
//! send is refused, cancelled or taken in part.
//!
//! # Example: the protocol without a socket
//!
//! ```
//! use router_client::{Decoder, encode_frame};
//!
//! // What client 7 writes to send "hi" to client 3...
//! let mut wire = Vec::new();
//! encode_frame(3, b"hi", &mut wire)?;
//! assert_eq!(wire, [0, 0, 0, 3, b'h', b'i', 0]);
//!
//! // ...and what client 3 reads: its ID, then the payload and terminator,
//! // here cut into pieces as a network may cut them.
//! let mut decoder = Decoder::new();
//! for piece in [&[0, 0, 0][..], &[3, b'h'], &[b'i', 0]] {
//!     decoder.handle_input(piece);
//! }
//! assert_eq!(decoder.id(), Some(3));
//! assert_eq!(decoder.poll_payload()?, Some(&b"hi"[..]));
//! assert_eq!(decoder.poll_payload()?, None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Example: a client that sends to itself
//!
//! ```no_run
//! use std::thread;
//! use router_client::blocking::Client;
//!
//! let (mut sender, mut receiver) = Client::connect("127.0.0.1:8080")?.split();
//! let me = sender.id();
//! let printer = thread::spawn(move || -> Result<(), router_client::Error> {
//!     // `None` once the router has closed the connection.
//!     while let Some(payload) = receiver.recv()? {
//!         println!("{}", payload.escape_ascii());
//!     }
//!     Ok(())
//! });
//! sender.send(me, b"note to self")?;
//! // The router delivers what it read, then closes: the printer ends.
//! sender.close()?;
//! printer.join().expect("the printer thread panicked")?;
//! # Ok::<(), router_client::Error>(())
//! ```
//!
//! # TLS
//!
//! With the feature `tls`, both clients connect to a router that serves TLS
//! (`router --tls-cert F --tls-key F`) through `connect_tls(addr,
//! server_name, config)`, and return the same `Client`: everything above
//! works unchanged, `split` included. rustls does the TLS, with the ring
//! provider as the router; `tls::client_config` builds its config from the
//! CA file that issued the router's certificate, plus this client's
//! certificate and key for a router that asks for one (mutual TLS,
//! `router --tls-client-ca F`). A failed handshake is `Error::Tls`, with
//! rustls' reason. The blocking halves share one TLS session, and a sender
//! blocked by a paused router never keeps its receiver from reading.
//!
#![cfg_attr(feature = "tls", doc = "```no_run")]
#![cfg_attr(not(feature = "tls"), doc = "```text")]
//! use std::path::Path;
//! use router_client::blocking::Client;
//! use router_client::tls::{self, ServerName};
//!
//! let config = tls::client_config(Path::new("ca.pem"), None)?;
//! let name = ServerName::try_from("router.example")?;
//! let mut client = Client::connect_tls("router.example:8443", name, config)?;
//! client.send(client.id(), b"note to self, encrypted")?;
//! assert_eq!(client.recv()?.as_deref(), Some(&b"note to self, encrypted"[..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

pub mod blocking;
mod decoder;
mod encoder;
mod error;
mod frame;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use decoder::{DEFAULT_MAX_PAYLOAD, DEFAULT_READ_SIZE, DecodeError, Decoder};
pub use encoder::Encoder;
pub use error::{Error, TrySendError};
pub use frame::{FRAME_OVERHEAD, PayloadError, TERMINATOR, check_payload, encode_frame};
