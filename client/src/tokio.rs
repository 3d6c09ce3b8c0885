//! An async client for tokio, over [`tokio::net::TcpStream`] (feature `tokio`).
//!
//! ```no_run
//! use router_client::tokio::Client;
//!
//! # async fn demo() -> Result<(), router_client::Error> {
//! let mut alice = Client::connect("127.0.0.1:8080").await?;
//! let mut bob = Client::connect("127.0.0.1:8080").await?;
//! alice.send(bob.id(), b"hello, bob").await?;
//! assert_eq!(bob.recv().await?.as_deref(), Some(&b"hello, bob"[..]));
//! # Ok(())
//! # }
//! ```

use std::io;

use ::tokio::io::{AsyncReadExt, AsyncWriteExt};
use ::tokio::net::{TcpStream, ToSocketAddrs};

use crate::decoder::{DecodeError, Decoder};
use crate::encoder::Encoder;
use crate::error::{Error, TrySendError};

mod halves;
#[cfg(feature = "tls")]
mod tls;

use halves::{ReadIo, WriteIo};

/// A connection to the router that has received its ID.
///
/// [`Client::split`] gives a [`Sender`] and a [`Receiver`] to use from two
/// tasks.
#[derive(Debug)]
pub struct Client {
    sender: Sender,
    receiver: Receiver,
}

/// The sending half of a [`Client`]. Over plain TCP, dropping it closes the
/// connection's sending side (tokio's `OwnedWriteHalf` does): the router
/// then closes the connection once it has delivered what was queued for it.
/// Over TLS, call [`Sender::close`] for that.
#[derive(Debug)]
pub struct Sender {
    id: u32,
    write: WriteIo,
    encoder: Encoder,
}

/// The receiving half of a [`Client`].
#[derive(Debug)]
pub struct Receiver {
    id: u32,
    read: ReadIo,
    decoder: Decoder,
}

impl Client {
    /// Connects to the router at `addr` and waits for the ID it sends first.
    ///
    /// A router at its connection limit closes the connection without an ID:
    /// that is [`DecodeError::NoId`].
    pub async fn connect(addr: impl ToSocketAddrs) -> Result<Client, Error> {
        Self::from_stream(TcpStream::connect(addr).await?).await
    }

    /// As [`Client::connect`], over a stream connected already (configured
    /// as you like), with the default [`Decoder`].
    pub async fn from_stream(stream: TcpStream) -> Result<Client, Error> {
        Self::with_decoder(stream, Decoder::new()).await
    }

    /// As [`Client::from_stream`], reading with `decoder` (for its payload
    /// limit or read size). It must be a fresh [`Decoder::new`]: the
    /// connection's ID is read through it.
    pub async fn with_decoder(stream: TcpStream, decoder: Decoder) -> Result<Client, Error> {
        let (read, write) = stream.into_split();
        Self::read_id(ReadIo::Plain(read), WriteIo::Plain(write), decoder).await
    }

    /// Reads the connection's ID through `read` and `decoder`, and makes the
    /// client.
    async fn read_id(
        mut read: ReadIo,
        write: WriteIo,
        mut decoder: Decoder,
    ) -> Result<Client, Error> {
        let id = loop {
            if let Some(id) = decoder.id() {
                break id;
            }
            if read_into(&mut read, &mut decoder).await? == 0 {
                return Err(DecodeError::NoId.into());
            }
        };
        Ok(Client {
            sender: Sender {
                id,
                write,
                encoder: Encoder::new(),
            },
            receiver: Receiver { id, read, decoder },
        })
    }

    /// The ID the router gave this connection: where peers send to reach it.
    pub fn id(&self) -> u32 {
        self.sender.id
    }

    /// Sends `payload` to client `dest`; see [`Sender::send`].
    pub async fn send(&mut self, dest: u32, payload: &[u8]) -> Result<(), Error> {
        self.sender.send(dest, payload).await
    }

    /// Sends `payload` to `dest` if the socket can take it now; see [`Sender::try_send`].
    pub fn try_send(&mut self, dest: u32, payload: &[u8]) -> Result<(), TrySendError> {
        self.sender.try_send(dest, payload)
    }

    /// Writes what is pending; see [`Sender::flush`].
    pub async fn flush(&mut self) -> Result<(), Error> {
        self.sender.flush().await
    }

    /// The next payload delivered to this client; see [`Receiver::recv`].
    pub async fn recv(&mut self) -> Result<Option<Vec<u8>>, Error> {
        self.receiver.recv().await
    }

    /// The sending and receiving halves, to use from different tasks.
    pub fn split(self) -> (Sender, Receiver) {
        (self.sender, self.receiver)
    }

    /// Closes the connection in order: writes everything pending, closes the
    /// sending side, and waits for the router to close the connection, which
    /// it does once it has read every frame sent (PROTOCOL.md, *Disconnect*).
    /// Payloads still delivered meanwhile are discarded.
    pub async fn close(mut self) -> Result<(), Error> {
        self.sender.close().await?;
        while self.receiver.recv().await?.is_some() {}
        Ok(())
    }
}

impl Sender {
    /// The ID of the connection this half sends from.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Sends `payload` to client `dest`, waiting until the socket has taken
    /// the whole frame: when the router pauses this sender (its destination is
    /// full), this waits. A payload containing `0x00` is refused before
    /// anything is written.
    ///
    /// Cancelling it (dropping the future) never cuts a frame on the wire:
    /// whatever part of the frame is not yet written goes first at the next
    /// `send`, `try_send` or [`Sender::flush`].
    pub async fn send(&mut self, dest: u32, payload: &[u8]) -> Result<(), Error> {
        self.encoder.push(dest, payload)?;
        self.flush().await
    }

    /// Sends `payload` to `dest` without waiting, if the socket can take the
    /// frame now; [`TrySendError::Full`] otherwise, with nothing written.
    /// "Now" is as far as the runtime knows (tokio's `try_write`): a socket
    /// whose readiness the runtime has not yet seen also reports `Full`.
    /// Over TLS, what the socket cannot take yet may wait encrypted in the
    /// session's send buffer (64 KiB), which counts as taken.
    ///
    /// A frame it accepts may be only partly written when the socket fills
    /// up; the rest goes first at the next `send`, `try_send` or
    /// [`Sender::flush`]. While such a rest is pending, `try_send` writes it if
    /// it can and otherwise reports `Full`.
    pub fn try_send(&mut self, dest: u32, payload: &[u8]) -> Result<(), TrySendError> {
        crate::frame::check_payload(payload)?;
        let write = &mut self.write;
        let taken = self
            .encoder
            .write_with(|bytes| write.try_write(bytes))
            .map_err(halves::error)?;
        if !taken {
            return Err(TrySendError::Full);
        }
        self.encoder.push(dest, payload)?;
        self.encoder
            .write_with(|bytes| write.try_write(bytes))
            .and_then(|_| write.try_flush())
            .map_err(halves::error)?;
        Ok(())
    }

    /// Waits until everything pending is written.
    pub async fn flush(&mut self) -> Result<(), Error> {
        while !self.encoder.is_empty() {
            match self.write.write(self.encoder.pending()).await {
                Ok(0) => return Err(Error::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.encoder.consume(n),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(halves::error(error)),
            }
        }
        // A TLS session holds what it encrypted until flushed.
        self.write.flush().await.map_err(halves::error)
    }

    /// Writes what is pending, then closes the sending side of the
    /// connection (over TLS, with `close_notify` first): the router sees
    /// EOF, delivers every frame, and closes the connection once it has
    /// flushed what it had queued for this client.
    pub async fn close(mut self) -> Result<(), Error> {
        self.flush().await?;
        self.write.shutdown().await.map_err(halves::error)?;
        Ok(())
    }
}

impl Receiver {
    /// The ID of the connection this half receives on.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Waits for the next payload delivered to this client, and returns it
    /// without its `0x00` terminator. `Ok(None)` when the router closed the
    /// connection between payloads; a connection cut inside a payload is
    /// [`DecodeError::Truncated`]. Over TLS, the router ends the stream with
    /// `close_notify`; a TCP EOF without it is an `UnexpectedEof` IO error,
    /// since the stream may have been cut by someone else.
    ///
    /// Cancel-safe: dropping the future loses no byte.
    pub async fn recv(&mut self) -> Result<Option<Vec<u8>>, Error> {
        loop {
            if let Some(payload) = self.decoder.poll_payload()? {
                return Ok(Some(payload.to_vec()));
            }
            if read_into(&mut self.read, &mut self.decoder).await? == 0 {
                self.decoder.handle_eof()?;
                return Ok(None);
            }
        }
    }
}

/// One read from `read` into `decoder`; 0 at EOF. Cancel-safe.
async fn read_into(read: &mut ReadIo, decoder: &mut Decoder) -> Result<usize, Error> {
    let n = read.read(decoder.read_buf()).await.map_err(halves::error)?;
    decoder.filled(n);
    Ok(n)
}
