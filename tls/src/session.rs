//! An established TLS connection, as a driver reads and writes it: ciphertext
//! in from the socket and plaintext out to the router, the router's vectored
//! slices in and records out to the socket.

use std::io::{self, IoSlice, Read, Write};
use std::time::Instant;

use router_core::{ConnHandle, Router};
use rustls::ServerConnection;
use tracing::debug;

/// An established connection's TLS state. The driver keeps it beside the
/// socket of the client the router gave an ID, and passes every read and
/// write through it.
#[derive(Debug)]
pub struct Session {
    conn: ServerConnection,
}

/// What a read of ciphertext led to, beyond the plaintext delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// More may come.
    Open,
    /// The client sent `close_notify`: treat as the end of its stream.
    Closed,
}

impl Session {
    pub(crate) fn new(conn: ServerConnection) -> Self {
        Session { conn }
    }

    /// Decrypts `ciphertext`, as read from the socket, and hands each run of
    /// plaintext to `deliver` (through `plaintext`, a scratch buffer of the
    /// driver's: rustls copies each record out once). A read of up to 64 KiB
    /// of ciphertext yields at most as much plaintext, so a paused router
    /// takes in no more than one plain read's worth.
    ///
    /// An error means the connection broke TLS (a bad record, a replay): the
    /// driver resets it.
    pub fn receive(
        &mut self,
        ciphertext: &[u8],
        plaintext: &mut [u8],
        deliver: impl FnMut(&[u8]),
    ) -> Result<Received, rustls::Error> {
        receive(&mut self.conn, ciphertext, plaintext, deliver)
    }

    /// [`receive`](Self::receive) for `conn`'s client, with what follows
    /// told to `router`: the plaintext as input, `close_notify` as EOF, a
    /// broken record as a reset. What every driver does with a read, through
    /// [`TlsLoop::deliver`](crate::TlsLoop::deliver).
    pub(crate) fn deliver(
        &mut self,
        ciphertext: &[u8],
        plaintext: &mut [u8],
        router: &mut Router,
        conn: ConnHandle,
        now: Instant,
    ) {
        let received = self.receive(ciphertext, plaintext, |bytes| {
            router.handle_input(conn, bytes, now)
        });
        match received {
            Ok(Received::Open) => {}
            Ok(Received::Closed) => router.handle_eof(conn, now),
            Err(error) => {
                debug!(conn = conn.id(), %error, "TLS failed: resetting");
                router.handle_reset(conn, now);
            }
        }
    }

    /// Encrypts a prefix of `slices` and writes it to `socket`, the way
    /// [`router_core::Io::write`] wants: returns the plaintext bytes taken.
    ///
    /// Records left from before go first; if the socket will not take them,
    /// nothing is taken (`WouldBlock`). Then as much plaintext as rustls'
    /// buffer holds (64 KiB) is encrypted, in records that span slices, and
    /// written with vectored writes; what the socket leaves waits for
    /// [`flush`](Self::flush) at its next writability, or for the next write.
    pub fn write(&mut self, slices: &[IoSlice<'_>], socket: &mut impl Write) -> io::Result<usize> {
        flush(&mut self.conn, socket)?;
        let taken = self.conn.writer().write_vectored(slices)?;
        // Taken is taken: a socket that blocks or fails now shows it again
        // on the next write or flush, and a reset also shows on reading.
        let _ = flush(&mut self.conn, socket);
        Ok(taken)
    }

    /// Whether records wait for the socket: the driver calls
    /// [`flush`](Self::flush) when it is writable again.
    pub fn wants_flush(&self) -> bool {
        self.conn.wants_write()
    }

    /// Writes the records waiting, until the socket would block
    /// (`WouldBlock`) or all are written (`Ok`): only then may the router
    /// write again, or it would only find the records in the way.
    pub fn flush(&mut self, socket: &mut impl Write) -> io::Result<()> {
        flush(&mut self.conn, socket)
    }

    /// Queues `close_notify` and writes what the socket takes: the client
    /// learns the stream ended on purpose. The session comes back if records
    /// are left: the driver hands it, with its socket, to
    /// [`TlsLoop::linger`](crate::TlsLoop::linger) rather than drop them.
    pub fn close(mut self: Box<Self>, socket: &mut impl Write) -> Option<Box<Session>> {
        self.conn.send_close_notify();
        let _ = flush(&mut self.conn, socket);
        self.conn.wants_write().then_some(self)
    }

    pub(crate) fn into_inner(self) -> ServerConnection {
        self.conn
    }
}

/// Feeds `ciphertext` to `conn`, record by record, handing out the plaintext.
pub(crate) fn receive(
    conn: &mut ServerConnection,
    mut ciphertext: &[u8],
    plaintext: &mut [u8],
    mut deliver: impl FnMut(&[u8]),
) -> Result<Received, rustls::Error> {
    loop {
        // The plaintext buffer was emptied below, so only a close_notify
        // already received stops rustls taking bytes (it reads 0).
        let read = if ciphertext.is_empty() {
            0
        } else {
            conn.read_tls(&mut ciphertext).unwrap_or(0)
        };
        conn.process_new_packets()?;
        loop {
            match conn.reader().read(plaintext) {
                Ok(0) => return Ok(Received::Closed),
                Ok(n) => deliver(&plaintext[..n]),
                // Nothing more decrypted yet.
                Err(_) => break,
            }
        }
        if read == 0 {
            return Ok(Received::Open);
        }
    }
}

/// Writes `conn`'s waiting records to `socket`.
pub(crate) fn flush(conn: &mut ServerConnection, socket: &mut impl Write) -> io::Result<()> {
    while conn.wants_write() {
        match conn.write_tls(socket) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
