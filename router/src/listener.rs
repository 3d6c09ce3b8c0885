//! The listening socket, with a backlog sized for bursts of connections.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

/// Connections the kernel queues before `accept`. std and mio ask for 128, so a
/// burst of a few hundred simultaneous connects overflows the queue and the
/// extra clients wait about a second for their SYN to be retried. The kernel
/// caps it at `net.core.somaxconn` (4096 on current Linux).
pub const LISTEN_BACKLOG: i32 = 4096;

/// Binds a non-blocking TCP listener on `addr` with `SO_REUSEADDR` (so a
/// restarted router rebinds at once) and a backlog of [`LISTEN_BACKLOG`].
///
/// Every driver of this project serves from it.
pub fn listen(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_a_nonblocking_listener_on_an_ephemeral_port() {
        let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        assert_ne!(addr.port(), 0);
        let error = listener.accept().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
    }
}
