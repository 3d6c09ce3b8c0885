//! Redis pub/sub through the `redis` crate, plus a raw-RESP subscriber that never
//! reads.

use std::time::Duration;

use redis::aio::{MultiplexedConnection, PubSubStream};
use redis::{AsyncConnectionConfig, Client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::BenchError;

/// Subscribes a dedicated connection to `channel`; returns once Redis confirmed.
pub(super) async fn subscribe(client: &Client, channel: &str) -> Result<PubSubStream, BenchError> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub.into_on_message())
}

/// A connection to `PUBLISH` on. The crate's default 500 ms response timeout is
/// lifted: a loaded server answering late is a measurement, not an error.
pub(super) async fn publisher(client: &Client) -> Result<MultiplexedConnection, BenchError> {
    let config = AsyncConnectionConfig::new()
        .set_response_timeout(None)
        .set_connection_timeout(Some(Duration::from_secs(10)));
    Ok(client
        .get_multiplexed_async_connection_with_config(&config)
        .await?)
}

/// Subscribes to `channel` over a raw socket, waits for the confirmation, and
/// returns the socket so that nobody reads it again.
pub(super) async fn stalled_subscriber(addr: &str, channel: &str) -> Result<TcpStream, BenchError> {
    let mut stream = TcpStream::connect(addr).await?;
    let command = format!(
        "*2\r\n$9\r\nSUBSCRIBE\r\n${}\r\n{channel}\r\n",
        channel.len()
    );
    stream.write_all(command.as_bytes()).await?;
    // The reply is `*3 subscribe <channel> :1`; its last line ends the handshake.
    let mut reply = Vec::new();
    while !reply.ends_with(b":1\r\n") {
        let mut chunk = [0u8; 256];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(BenchError::Closed);
        }
        reply.extend_from_slice(&chunk[..n]);
        if reply.len() > 1024 {
            return Err(BenchError::Protocol(format!(
                "unexpected SUBSCRIBE reply: {}",
                String::from_utf8_lossy(&reply)
            )));
        }
    }
    Ok(stream)
}
