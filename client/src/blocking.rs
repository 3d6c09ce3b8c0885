//! A blocking client over [`std::net::TcpStream`].
//!
//! ```no_run
//! use router_client::blocking::Client;
//!
//! let mut alice = Client::connect("127.0.0.1:8080")?;
//! let mut bob = Client::connect("127.0.0.1:8080")?;
//! alice.send(bob.id(), b"hello, bob")?;
//! assert_eq!(bob.recv()?.as_deref(), Some(&b"hello, bob"[..]));
//! # Ok::<(), router_client::Error>(())
//! ```

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};

use crate::decoder::{DecodeError, Decoder};
use crate::encoder::Encoder;
use crate::error::{Error, TrySendError};

/// A connection to the router that has received its ID.
///
/// Sending and receiving are independent: [`Client::split`] gives a
/// [`Sender`] and a [`Receiver`] to use from two threads.
#[derive(Debug)]
pub struct Client {
    sender: Sender,
    receiver: Receiver,
}

/// The sending half of a [`Client`].
#[derive(Debug)]
pub struct Sender {
    id: u32,
    stream: TcpStream,
    encoder: Encoder,
}

/// The receiving half of a [`Client`].
#[derive(Debug)]
pub struct Receiver {
    id: u32,
    stream: TcpStream,
    decoder: Decoder,
}

impl Client {
    /// Connects to the router at `addr` and waits for the ID it sends first.
    ///
    /// A router at its connection limit closes the connection without an ID:
    /// that is [`DecodeError::NoId`].
    pub fn connect(addr: impl ToSocketAddrs) -> Result<Client, Error> {
        Self::from_stream(TcpStream::connect(addr)?)
    }

    /// As [`Client::connect`], over a stream connected already (configured
    /// as you like), with the default [`Decoder`].
    pub fn from_stream(stream: TcpStream) -> Result<Client, Error> {
        Self::with_decoder(stream, Decoder::new())
    }

    /// As [`Client::from_stream`], reading with `decoder` (for its payload
    /// limit or read size). It must be a fresh [`Decoder::new`]: the
    /// connection's ID is read through it.
    pub fn with_decoder(mut stream: TcpStream, mut decoder: Decoder) -> Result<Client, Error> {
        let id = loop {
            if let Some(id) = decoder.id() {
                break id;
            }
            if read_into(&mut stream, &mut decoder)? == 0 {
                return Err(DecodeError::NoId.into());
            }
        };
        Ok(Client {
            sender: Sender {
                id,
                stream: stream.try_clone()?,
                encoder: Encoder::new(),
            },
            receiver: Receiver {
                id,
                stream,
                decoder,
            },
        })
    }

    /// The ID the router gave this connection: where peers send to reach it.
    pub fn id(&self) -> u32 {
        self.sender.id
    }

    /// Sends `payload` to client `dest`; see [`Sender::send`].
    pub fn send(&mut self, dest: u32, payload: &[u8]) -> Result<(), Error> {
        self.sender.send(dest, payload)
    }

    /// Sends `payload` to `dest` if the socket can take it now; see [`Sender::try_send`].
    #[cfg(unix)]
    pub fn try_send(&mut self, dest: u32, payload: &[u8]) -> Result<(), TrySendError> {
        self.sender.try_send(dest, payload)
    }

    /// Writes what [`Client::try_send`] left pending; see [`Sender::flush`].
    pub fn flush(&mut self) -> Result<(), Error> {
        self.sender.flush()
    }

    /// The next payload delivered to this client; see [`Receiver::recv`].
    pub fn recv(&mut self) -> Result<Option<Vec<u8>>, Error> {
        self.receiver.recv()
    }

    /// The sending and receiving halves, to use from different threads. Both
    /// share the one connection, which stays open until both are dropped.
    pub fn split(self) -> (Sender, Receiver) {
        (self.sender, self.receiver)
    }

    /// Closes the connection in order: writes everything pending, closes the
    /// sending side, and waits for the router to close the connection, which
    /// it does once it has read every frame sent (PROTOCOL.md, *Disconnect*).
    /// Payloads still delivered meanwhile are discarded.
    pub fn close(mut self) -> Result<(), Error> {
        self.sender.close()?;
        while self.receiver.recv()?.is_some() {}
        Ok(())
    }
}

impl Sender {
    /// The ID of the connection this half sends from.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Sends `payload` to client `dest`, blocking until the socket has taken
    /// the whole frame: when the router pauses this sender (its destination is
    /// full), this waits. A payload containing `0x00` is refused before
    /// anything is written.
    pub fn send(&mut self, dest: u32, payload: &[u8]) -> Result<(), Error> {
        self.encoder.push(dest, payload)?;
        self.flush()
    }

    /// Sends `payload` to `dest` without blocking, if the socket can take
    /// the frame now; [`TrySendError::Full`] otherwise, with nothing written.
    ///
    /// A frame it accepts may be only partly written when the socket fills
    /// up; the rest goes first at the next `send`, `try_send` or
    /// [`Sender::flush`] (a frame is never cut on the wire). While such a rest
    /// is pending, `try_send` writes it if it can and otherwise reports
    /// `Full`.
    #[cfg(unix)]
    pub fn try_send(&mut self, dest: u32, payload: &[u8]) -> Result<(), TrySendError> {
        crate::frame::check_payload(payload)?;
        if !self.write_without_blocking()? {
            return Err(TrySendError::Full);
        }
        self.encoder.push(dest, payload)?;
        self.write_without_blocking()?;
        Ok(())
    }

    /// Blocks until everything [`Sender::try_send`] left pending is written.
    pub fn flush(&mut self) -> Result<(), Error> {
        let stream = &mut self.stream;
        if self.encoder.write_with(|bytes| stream.write(bytes))? {
            Ok(())
        } else {
            // Only a socket set non-blocking by its owner gets here.
            Err(Error::Io(io::ErrorKind::WouldBlock.into()))
        }
    }

    /// Writes what is pending, then closes the sending side of the
    /// connection: the router sees EOF, delivers every frame, and closes the
    /// connection once it has flushed what it had queued for this client.
    pub fn close(mut self) -> Result<(), Error> {
        self.flush()?;
        self.stream.shutdown(Shutdown::Write)?;
        Ok(())
    }

    /// Writes what is pending without blocking; whether all of it went.
    #[cfg(unix)]
    fn write_without_blocking(&mut self) -> io::Result<bool> {
        let socket = socket2::SockRef::from(&self.stream);
        // A per-call flag, not `set_nonblocking`: the receiving half shares
        // the socket and must go on blocking.
        self.encoder
            .write_with(|bytes| socket.send_with_flags(bytes, libc::MSG_DONTWAIT))
    }
}

impl Receiver {
    /// The ID of the connection this half receives on.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Blocks until the next payload delivered to this client arrives, and
    /// returns it without its `0x00` terminator. `Ok(None)` when the router
    /// closed the connection between payloads (after a drain, or once this
    /// client closed its sending side); a connection cut inside a payload is
    /// [`DecodeError::Truncated`].
    pub fn recv(&mut self) -> Result<Option<Vec<u8>>, Error> {
        loop {
            if let Some(payload) = self.decoder.poll_payload()? {
                return Ok(Some(payload.to_vec()));
            }
            if read_into(&mut self.stream, &mut self.decoder)? == 0 {
                self.decoder.handle_eof()?;
                return Ok(None);
            }
        }
    }
}

/// One read from `stream` into `decoder`; 0 at EOF. Retries `Interrupted`.
fn read_into(stream: &mut TcpStream, decoder: &mut Decoder) -> io::Result<usize> {
    loop {
        match stream.read(decoder.read_buf()) {
            Ok(n) => {
                decoder.filled(n);
                return Ok(n);
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}
