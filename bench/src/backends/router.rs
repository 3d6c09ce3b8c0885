//! Connecting to our router: TCP connect (and a TLS handshake, with TLS on),
//! then wait for the 4-byte ID.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

use super::{ReadHalf, WriteHalf};
use crate::error::BenchError;
use crate::protocol::read_id;

/// How long a new connection may wait for its ID: the protocol says it comes
/// immediately, so this only catches a wedged server.
const ID_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects (over TLS with `tls`) and returns the ID the router assigned,
/// with both halves of the connection.
pub(super) async fn connect(
    addr: &str,
    tls: Option<TlsConnector>,
) -> Result<(u32, ReadHalf, WriteHalf), BenchError> {
    let Some(tls) = tls else {
        let (id, stream) = connect_whole(addr).await?;
        let (read, write) = stream.into_split();
        return Ok((id, Box::new(read), Box::new(write)));
    };
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let name = ServerName::try_from("localhost").expect("a DNS name");
    let (id, stream) = tokio::time::timeout(ID_TIMEOUT, async {
        let mut stream = tls.connect(name, stream).await?;
        let id = read_id(&mut stream).await?;
        Ok::<_, BenchError>((id, stream))
    })
    .await
    .map_err(|_| BenchError::Timeout("no TLS handshake and ID within 10 s"))??;
    let (read, write) = tokio::io::split(stream);
    Ok((id, Box::new(read), Box::new(write)))
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
