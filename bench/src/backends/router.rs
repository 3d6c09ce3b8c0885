//! Connecting to our router: TCP connect, then wait for the 4-byte ID.

use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::error::BenchError;
use crate::protocol::read_id;

/// Connects and returns the ID the router assigned, with both socket halves.
pub(super) async fn connect(
    addr: &str,
) -> Result<(u32, OwnedReadHalf, OwnedWriteHalf), BenchError> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let id = read_id(&mut stream).await?;
    let (read, write) = stream.into_split();
    Ok((id, read, write))
}
