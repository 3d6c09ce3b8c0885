//! The two halves of a tokio connection, plain or TLS, behind one type
//! each, so that the client's code is written once.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use ::tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::error::Error;

#[cfg(feature = "tls")]
type TlsStream = tokio_rustls::client::TlsStream<::tokio::net::TcpStream>;

/// The half a [`Receiver`](super::Receiver) reads from.
#[derive(Debug)]
pub(super) enum ReadIo {
    Plain(OwnedReadHalf),
    /// `tokio::io::split` of one TLS stream: each poll takes the stream's
    /// lock only for its own duration, so a write waiting for the socket
    /// never holds up a read.
    #[cfg(feature = "tls")]
    Tls(::tokio::io::ReadHalf<TlsStream>),
}

/// The half a [`Sender`](super::Sender) writes to.
#[derive(Debug)]
pub(super) enum WriteIo {
    Plain(OwnedWriteHalf),
    #[cfg(feature = "tls")]
    Tls(::tokio::io::WriteHalf<TlsStream>),
}

impl WriteIo {
    /// Writes what the connection takes now, without waiting:
    /// `WouldBlock` if nothing.
    pub(super) fn try_write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            WriteIo::Plain(write) => write.try_write(bytes),
            #[cfg(feature = "tls")]
            WriteIo::Tls(write) => match poll_now(|cx| Pin::new(&mut *write).poll_write(cx, bytes))
            {
                Poll::Ready(result) => result,
                Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
            },
        }
    }

    /// Over TLS, pushes the records the session holds to the socket as far
    /// as it takes them now; the rest goes with the next write or flush.
    pub(super) fn try_flush(&mut self) -> io::Result<()> {
        match self {
            WriteIo::Plain(_) => Ok(()),
            #[cfg(feature = "tls")]
            WriteIo::Tls(write) => match poll_now(|cx| Pin::new(&mut *write).poll_flush(cx)) {
                Poll::Ready(result) => result,
                Poll::Pending => Ok(()),
            },
        }
    }
}

/// Polls once, with a waker that does nothing: "can it be done now?". The
/// waker it leaves registered is the sender's own (only the sender writes),
/// and the next `send` or `flush` registers a real one again.
#[cfg(feature = "tls")]
fn poll_now<T>(poll: impl FnOnce(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
    poll(&mut Context::from_waker(std::task::Waker::noop()))
}

/// An IO error as the client reports it: rustls' verdicts as
/// [`Error::Tls`].
pub(super) fn error(error: io::Error) -> Error {
    #[cfg(feature = "tls")]
    return crate::tls::unwrap_io(error);
    #[cfg(not(feature = "tls"))]
    Error::Io(error)
}

impl AsyncRead for ReadIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ReadIo::Plain(read) => Pin::new(read).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            ReadIo::Tls(read) => Pin::new(read).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for WriteIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WriteIo::Plain(write) => Pin::new(write).poll_write(cx, bytes),
            #[cfg(feature = "tls")]
            WriteIo::Tls(write) => Pin::new(write).poll_write(cx, bytes),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteIo::Plain(write) => Pin::new(write).poll_flush(cx),
            #[cfg(feature = "tls")]
            WriteIo::Tls(write) => Pin::new(write).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteIo::Plain(write) => Pin::new(write).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            WriteIo::Tls(write) => Pin::new(write).poll_shutdown(cx),
        }
    }
}
