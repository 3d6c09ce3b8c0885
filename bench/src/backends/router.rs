//! Connecting to our router: TCP connect, then wait for the 4-byte ID.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::error::BenchError;
use crate::protocol::read_id;

/// How long a new connection may wait for its ID: the protocol says it comes
/// immediately, so this only catches a wedged server.
const ID_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects and returns the ID the router assigned, with both socket halves.
pub(super) async fn connect(
    addr: &str,
) -> Result<(u32, OwnedReadHalf, OwnedWriteHalf), BenchError> {
    let (id, stream) = connect_whole(addr).await?;
    let (read, write) = stream.into_split();
    Ok((id, read, write))
}

/// Connects and returns the ID the router assigned, with the socket.
pub(super) async fn connect_whole(addr: &str) -> Result<(u32, TcpStream), BenchError> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let id = tokio::time::timeout(ID_TIMEOUT, read_id(&mut stream))
        .await
        .map_err(|_| BenchError::Timeout("the router sent no ID within 10 s"))??;
    Ok((id, stream))
}
