//! The serverless baseline: one loopback TCP connection between sender and receiver.

use tokio::net::{TcpListener, TcpStream};

use crate::error::BenchError;

/// A connected pair of loopback sockets, on an ephemeral port of 127.0.0.1.
pub(super) async fn socket_pair() -> Result<(TcpStream, TcpStream), BenchError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let (client, accepted) = tokio::join!(
        TcpStream::connect(listener.local_addr()?),
        listener.accept()
    );
    let (client, (server, _)) = (client?, accepted?);
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    Ok((client, server))
}
