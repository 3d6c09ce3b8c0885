//! One vectored write to a client, without the risk of `SIGPIPE`.

use std::ffi::c_int;
use std::io::{self, IoSlice, Write};

use mio::net::TcpStream;
use socket2::SockRef;

/// `MSG_NOSIGNAL` turns the `SIGPIPE` of a write to a reset connection into
/// an `EPIPE` error, without touching the process's signal dispositions,
/// which belong to whoever embeds the driver. `writev` has no flags argument,
/// hence `sendmsg`.
#[cfg(any(target_os = "linux", target_os = "android"))]
const SEND_FLAGS: c_int = libc::MSG_NOSIGNAL;
/// Platforms without `MSG_NOSIGNAL` rely on the host ignoring `SIGPIPE`, as
/// every Rust binary does from its start.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const SEND_FLAGS: c_int = 0;

/// Writes a prefix of `slices` to `stream` with one `sendmsg`, and returns
/// the kernel's answer as it is: the router reads it
/// ([`Router::drive`](router_core::Router::drive)).
pub(crate) fn send_vectored(stream: &TcpStream, slices: &[IoSlice<'_>]) -> io::Result<usize> {
    SockRef::from(stream).send_vectored_with_flags(slices, SEND_FLAGS)
}

/// A socket as rustls writes records to it: [`send_vectored`] behind
/// [`Write`].
pub(crate) struct SendTo<'a>(pub(crate) &'a TcpStream);

impl Write for SendTo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        send_vectored(self.0, &[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        send_vectored(self.0, bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
