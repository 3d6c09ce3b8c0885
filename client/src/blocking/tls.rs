//! The blocking client over TLS: one rustls session shared by the two
//! halves, so that a sender blocked in a write never stops the receiver.
//!
//! The halves run on different threads, and a sender may block in a socket
//! write for as long as the router pauses it (its destination is full). If
//! that write held the session, the receiver could not decrypt what the
//! router delivers; two clients sending to each other would then each wait
//! for the other's receiver, forever. So **the session's lock is never held
//! across a system call**:
//!
//! - the [`TlsReceiver`] reads ciphertext from its own clone of the socket
//!   without the lock, then locks only to hand the bytes to rustls and take
//!   the plaintext out;
//! - the [`TlsSender`] locks only to encrypt into a buffer of its own, then
//!   writes that buffer to its clone of the socket without the lock;
//! - the receiver never writes. Records rustls wants to send after a read
//!   (a `key_update` answer, an alert) wait in the session and go out
//!   first with the sender's next write; the router never waits for them.
//!
//! **Why the records stay in order.** Every record is made by rustls under
//! the lock and queued in its one send buffer, in the order it made them
//! (a `key_update` before the records under the new key). The sender moves
//! that whole queue, in order, into its own buffer, and writes the buffer
//! out completely before it takes the next batch; nothing else writes to
//! the socket. So the bytes on the wire are exactly rustls' sequence. On the
//! read side only the receiver reads the socket and feeds rustls, in the
//! order the bytes came. Encrypting and decrypting touch separate state of
//! the session, so their interleaving under the lock changes neither.

use std::io::{self, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex, MutexGuard};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};

use super::{Client, ReceiveIo, SendIo, read_retrying};
use crate::decoder::Decoder;
use crate::encoder::Encoder;
use crate::error::Error;
use crate::tls::unwrap_io;

/// How much ciphertext the receiver reads per system call: one full TLS
/// record and its overhead.
const CIPHERTEXT_READ: usize = 16 * 1024 + 256;

impl Client {
    /// Connects to the router at `addr` over TLS, checking that its
    /// certificate is valid for `server_name` by `config`'s roots, and waits
    /// for the ID. A failed handshake (an untrusted certificate, a client
    /// certificate the router refused) is [`Error::Tls`].
    ///
    /// [`tls::client_config`](crate::tls::client_config) builds `config`
    /// from PEM files.
    pub fn connect_tls(
        addr: impl ToSocketAddrs,
        server_name: ServerName<'static>,
        config: Arc<ClientConfig>,
    ) -> Result<Client, Error> {
        let stream = TcpStream::connect(addr)?;
        Self::with_decoder_tls(stream, server_name, config, Decoder::new())
    }

    /// As [`Client::connect_tls`], over a stream connected already, reading
    /// with `decoder` (a fresh [`Decoder::new`], as for
    /// [`Client::with_decoder`]).
    pub fn with_decoder_tls(
        mut stream: TcpStream,
        server_name: ServerName<'static>,
        config: Arc<ClientConfig>,
        decoder: Decoder,
    ) -> Result<Client, Error> {
        let mut session = ClientConnection::new(config, server_name).map_err(Error::Tls)?;
        while session.is_handshaking() {
            session.complete_io(&mut stream).map_err(unwrap_io)?;
        }
        let session = Arc::new(Mutex::new(session));
        let sender = TlsSender {
            session: session.clone(),
            stream: stream.try_clone()?,
            ciphertext: Vec::new(),
            written: 0,
        };
        let receiver = TlsReceiver {
            session,
            stream,
            ciphertext: vec![0; CIPHERTEXT_READ].into_boxed_slice(),
            ended: false,
        };
        Self::read_id(SendIo::Tls(sender), ReceiveIo::Tls(receiver), decoder)
    }
}

/// Whether a write may block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Blocking {
    Yes,
    #[cfg(unix)]
    No,
}

/// The sending half's side of the session.
#[derive(Debug)]
pub(super) struct TlsSender {
    session: Arc<Mutex<ClientConnection>>,
    stream: TcpStream,
    /// Records taken from the session and not yet all written. Taken only
    /// once the previous ones are written, and at most rustls' send buffer
    /// (64 KiB of plaintext) at a time.
    ciphertext: Vec<u8>,
    /// How much of `ciphertext` the socket has taken.
    written: usize,
}

impl TlsSender {
    /// Encrypts what `encoder` holds and writes it, with any record the
    /// session queued: until all is written (`Ok(true)`), or, with
    /// [`Blocking::No`], until the socket would block (`Ok(false)`; the
    /// rest goes first next time, so no record, and no frame, is cut).
    pub(super) fn write(
        &mut self,
        encoder: &mut Encoder,
        blocking: Blocking,
    ) -> Result<bool, Error> {
        loop {
            if !self.write_ciphertext(blocking)? {
                return Ok(false);
            }
            if !self.encrypt(encoder)? {
                return Ok(true);
            }
        }
    }

    /// Sends `close_notify`, then closes the socket's sending side. Call it
    /// once everything pending is written.
    pub(super) fn close(&mut self) -> Result<(), Error> {
        lock(&self.session)?.send_close_notify();
        self.write(&mut Encoder::new(), Blocking::Yes)?;
        self.stream.shutdown(Shutdown::Write)?;
        Ok(())
    }

    /// Writes the rest of `ciphertext`, without the session's lock; whether
    /// all of it went.
    fn write_ciphertext(&mut self, blocking: Blocking) -> Result<bool, Error> {
        while self.written < self.ciphertext.len() {
            let rest = &self.ciphertext[self.written..];
            let result = match blocking {
                Blocking::Yes => self.stream.write(rest),
                #[cfg(unix)]
                Blocking::No => super::send_without_blocking(&self.stream, rest),
            };
            match result {
                Ok(0) => return Err(Error::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.written += n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(error) => return Err(error.into()),
            }
        }
        Ok(true)
    }

    /// Under the lock: hands rustls as much of `encoder`'s plaintext as its
    /// send buffer takes, and moves every record it has queued into
    /// `ciphertext` (written out already). Whether there is any to write.
    fn encrypt(&mut self, encoder: &mut Encoder) -> Result<bool, Error> {
        self.ciphertext.clear();
        self.written = 0;
        let mut session = lock(&self.session)?;
        if !encoder.is_empty() {
            let taken = session.writer().write(encoder.pending())?;
            encoder.consume(taken);
        }
        while session.wants_write() {
            session.write_tls(&mut self.ciphertext)?;
        }
        Ok(!self.ciphertext.is_empty())
    }
}

/// The receiving half's side of the session.
#[derive(Debug)]
pub(super) struct TlsReceiver {
    session: Arc<Mutex<ClientConnection>>,
    stream: TcpStream,
    /// Where each read of the socket lands before rustls takes it.
    ciphertext: Box<[u8]>,
    /// Whether the router's stream has ended (its `close_notify` came).
    ended: bool,
}

impl TlsReceiver {
    /// Blocks until some plaintext arrives, and hands it to `decoder`;
    /// `false` once the router has closed the session with `close_notify`.
    /// A TCP EOF without it is an `UnexpectedEof` error: the stream may
    /// have been cut by someone else.
    pub(super) fn read_into(&mut self, decoder: &mut Decoder) -> Result<bool, Error> {
        if self.ended {
            return Ok(false);
        }
        // The first pass feeds nothing: plaintext may wait in the session
        // already, having come in with the end of the handshake.
        let mut read = 0;
        loop {
            if self.decrypt(read, decoder)? > 0 {
                return Ok(true);
            }
            if self.ended {
                return Ok(false);
            }
            read = read_retrying(&mut self.stream, &mut self.ciphertext)?;
            if read == 0 {
                // EOF: let rustls say whether it was a clean one.
                lock(&self.session)?.read_tls(&mut io::empty())?;
                self.decrypt(0, decoder)?;
                return Ok(!self.ended);
            }
        }
    }

    /// Under the lock: feeds the first `read` bytes of `ciphertext` to
    /// rustls and moves the plaintext into `decoder`; how many plaintext
    /// bytes. Notes the router's `close_notify` in `ended`.
    fn decrypt(&mut self, read: usize, decoder: &mut Decoder) -> Result<usize, Error> {
        let mut session = lock(&self.session)?;
        let mut ciphertext = &self.ciphertext[..read];
        let mut plaintext = 0;
        loop {
            session.process_new_packets().map_err(Error::Tls)?;
            loop {
                match io::Read::read(&mut session.reader(), decoder.read_buf()) {
                    Ok(0) => {
                        self.ended = true;
                        return Ok(plaintext);
                    }
                    Ok(n) => {
                        decoder.filled(n);
                        plaintext += n;
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                    Err(error) => return Err(error.into()),
                }
            }
            // rustls takes a slice in pieces; it takes nothing after the
            // router's close_notify.
            if ciphertext.is_empty() || session.read_tls(&mut ciphertext)? == 0 {
                return Ok(plaintext);
            }
        }
    }
}

/// The session, for the little work done under its lock. A half that
/// panicked while holding it cannot have left it half-updated by our code
/// (nothing of ours panics there), but rustls' state is unknown: refuse.
fn lock(session: &Mutex<ClientConnection>) -> io::Result<MutexGuard<'_, ClientConnection>> {
    session
        .lock()
        .map_err(|_| io::Error::other("the TLS session was poisoned by a panic in the other half"))
}
