//! NATS core through `async-nats`, plus a raw-protocol subscriber that never reads.

use std::path::Path;

use async_nats::{Client, ConnectOptions, Subject, Subscriber};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::BenchError;

/// Connects one client (one TCP connection), over TLS trusting `tls_ca` if
/// given.
pub(super) async fn connect(addr: &str, tls_ca: Option<&Path>) -> Result<Client, BenchError> {
    let mut options = ConnectOptions::new()
        // The client's default of 64 Ki buffered messages per subscription is
        // plenty with a bounded window; say so rather than rely on it.
        .subscription_capacity(64 * 1024);
    if let Some(ca) = tls_ca {
        options = options
            .require_tls(true)
            .add_root_certificates(ca.to_owned());
    }
    options.connect(addr).await.map_err(BenchError::nats)
}

/// Subscribes to `subject` and round-trips a PING, so the server has registered the
/// subscription before anyone publishes to it.
pub(super) async fn subscribe(
    client: &Client,
    subject: &Subject,
) -> Result<Subscriber, BenchError> {
    let subscriber = client
        .subscribe(subject.clone())
        .await
        .map_err(BenchError::nats)?;
    client.flush().await.map_err(BenchError::nats)?;
    Ok(subscriber)
}

/// Subscribes to `subject` over a raw socket, waits for the PONG that proves the
/// subscription is registered, and returns the socket so that nobody reads it again.
pub(super) async fn stalled_subscriber(addr: &str, subject: &str) -> Result<TcpStream, BenchError> {
    let mut stream = TcpStream::connect(addr).await?;
    let handshake = format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"protocol\":1}}\r\nSUB {subject} 1\r\nPING\r\n"
    );
    stream.write_all(handshake.as_bytes()).await?;
    let mut reply = Vec::new();
    while !reply.ends_with(b"PONG\r\n") {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(BenchError::Closed);
        }
        reply.extend_from_slice(&chunk[..n]);
        if reply.len() > 64 * 1024 {
            return Err(BenchError::Protocol("no PONG from the NATS server".into()));
        }
    }
    Ok(stream)
}
