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

#[cfg(feature = "tls")]
mod tls;

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
    io: SendIo,
    encoder: Encoder,
}

/// The receiving half of a [`Client`].
#[derive(Debug)]
pub struct Receiver {
    id: u32,
    io: ReceiveIo,
    decoder: Decoder,
}

/// Where a [`Sender`] writes: the socket, or a TLS session over it.
#[derive(Debug)]
enum SendIo {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(tls::TlsSender),
}

/// Where a [`Receiver`] reads from: the socket, or a TLS session over it.
#[derive(Debug)]
enum ReceiveIo {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(tls::TlsReceiver),
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
    pub fn with_decoder(stream: TcpStream, decoder: Decoder) -> Result<Client, Error> {
        let send = SendIo::Plain(stream.try_clone()?);
        Self::read_id(send, ReceiveIo::Plain(stream), decoder)
    }

    /// Reads the connection's ID through `receive` and `decoder`, and makes
    /// the client.
    fn read_id(send: SendIo, receive: ReceiveIo, decoder: Decoder) -> Result<Client, Error> {
        let mut receiver = Receiver {
            id: 0,
            io: receive,
            decoder,
        };
        let id = loop {
            if let Some(id) = receiver.decoder.id() {
                break id;
            }
            if !receiver.io.read_into(&mut receiver.decoder)? {
                return Err(DecodeError::NoId.into());
            }
        };
        receiver.id = id;
        Ok(Client {
            sender: Sender {
                id,
                io: send,
                encoder: Encoder::new(),
            },
            receiver,
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
        let written = match &mut self.io {
            SendIo::Plain(stream) => self.encoder.write_with(|bytes| stream.write(bytes))?,
            #[cfg(feature = "tls")]
            SendIo::Tls(tls) => tls.write(&mut self.encoder, tls::Blocking::Yes)?,
        };
        if written {
            Ok(())
        } else {
            // Only a socket set non-blocking by its owner gets here.
            Err(Error::Io(io::ErrorKind::WouldBlock.into()))
        }
    }

    /// Writes what is pending, then closes the sending side of the
    /// connection (over TLS, with `close_notify` first): the router sees
    /// EOF, delivers every frame, and closes the connection once it has
    /// flushed what it had queued for this client.
    pub fn close(mut self) -> Result<(), Error> {
        self.flush()?;
        match &mut self.io {
            SendIo::Plain(stream) => stream.shutdown(Shutdown::Write)?,
            #[cfg(feature = "tls")]
            SendIo::Tls(tls) => tls.close()?,
        }
        Ok(())
    }

    /// Writes what is pending without blocking; whether all of it went.
    #[cfg(unix)]
    fn write_without_blocking(&mut self) -> Result<bool, Error> {
        match &mut self.io {
            SendIo::Plain(stream) => Ok(self
                .encoder
                .write_with(|bytes| send_without_blocking(stream, bytes))?),
            #[cfg(feature = "tls")]
            SendIo::Tls(tls) => tls.write(&mut self.encoder, tls::Blocking::No),
        }
    }
}

/// One `send` that does not block, with a per-call flag rather than
/// `set_nonblocking`: the receiving half shares the socket and must go on
/// blocking.
#[cfg(unix)]
fn send_without_blocking(stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    socket2::SockRef::from(stream).send_with_flags(bytes, libc::MSG_DONTWAIT)
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
    /// [`DecodeError::Truncated`]. Over TLS, the router ends the stream with
    /// `close_notify`; a TCP EOF without it is an `UnexpectedEof` IO error,
    /// since the stream may have been cut by someone else.
    pub fn recv(&mut self) -> Result<Option<Vec<u8>>, Error> {
        loop {
            if let Some(payload) = self.decoder.poll_payload()? {
                return Ok(Some(payload.to_vec()));
            }
            if !self.io.read_into(&mut self.decoder)? {
                self.decoder.handle_eof()?;
                return Ok(None);
            }
        }
    }
}

impl ReceiveIo {
    /// Blocks until some bytes of the router's stream arrive, and hands them
    /// to `decoder`; `false` once the stream has ended.
    fn read_into(&mut self, decoder: &mut Decoder) -> Result<bool, Error> {
        match self {
            ReceiveIo::Plain(stream) => {
                let n = read_retrying(stream, decoder.read_buf())?;
                decoder.filled(n);
                Ok(n > 0)
            }
            #[cfg(feature = "tls")]
            ReceiveIo::Tls(tls) => tls.read_into(decoder),
        }
    }
}

/// One read from `stream` into `buf`; 0 at EOF. Retries `Interrupted`.
fn read_retrying(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match stream.read(buf) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}
