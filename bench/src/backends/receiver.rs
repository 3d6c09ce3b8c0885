//! The receiving side of a client: hands out payloads, in batches where the backend
//! allows it.

use std::time::Instant;

use futures_util::{FutureExt, StreamExt};
use router_client::Decoder;
use tokio::io::AsyncReadExt;

use super::{ReadHalf, WriteHalf};
use crate::error::BenchError;
use crate::protocol::payload_decoder;

/// Most messages taken from a client crate's queue per call: enough to amortise the
/// caller's per-call work, few enough to keep the latency of the batch's first
/// message honest.
const MAX_BATCH: usize = 256;

/// Delivers received payloads (terminator stripped) to a callback.
pub(crate) enum Receiver {
    /// A router or `direct` socket.
    Stream {
        read: ReadHalf,
        decoder: Box<Decoder>,
        /// The write half of a receive-only connection, kept because dropping it
        /// would half-close the socket, which the router takes as a disconnect.
        _write: Option<WriteHalf>,
    },
    /// A Redis connection in subscribed mode.
    Redis(redis::aio::PubSubStream),
    /// A NATS subscription, with the client that keeps its connection alive.
    Nats {
        subscriber: async_nats::Subscriber,
        _client: async_nats::Client,
    },
}

impl Receiver {
    /// Wraps a socket read half.
    pub(super) fn stream(read: ReadHalf, write: Option<WriteHalf>) -> Self {
        Self::Stream {
            read,
            decoder: Box::new(payload_decoder()),
            _write: write,
        }
    }

    /// Wraps a NATS subscription.
    pub(super) fn nats(subscriber: async_nats::Subscriber, client: async_nats::Client) -> Self {
        Self::Nats {
            subscriber,
            _client: client,
        }
    }

    /// Waits for the next data and calls `on_payload` for each payload it completes,
    /// with the instant it arrived. Cancel-safe: dropping the future loses nothing.
    pub(crate) async fn recv(
        &mut self,
        mut on_payload: impl FnMut(Instant, &[u8]),
    ) -> Result<(), BenchError> {
        match self {
            Self::Stream { read, decoder, .. } => {
                // Cancel-safe: until the read completes, nothing is consumed.
                let n = read.read(decoder.read_buf()).await?;
                if n == 0 {
                    return Err(BenchError::Closed);
                }
                let now = Instant::now();
                decoder.filled(n);
                while let Some(payload) = decoder.poll_payload()? {
                    on_payload(now, payload);
                }
                Ok(())
            }
            Self::Redis(stream) => {
                let message = stream.next().await.ok_or(BenchError::Closed)?;
                let now = Instant::now();
                on_payload(now, message.get_payload_bytes());
                // Drain what is already queued without awaiting again.
                for _ in 1..MAX_BATCH {
                    match stream.next().now_or_never() {
                        Some(Some(message)) => on_payload(now, message.get_payload_bytes()),
                        Some(None) => return Err(BenchError::Closed),
                        None => break,
                    }
                }
                Ok(())
            }
            Self::Nats { subscriber, .. } => {
                let message = subscriber.next().await.ok_or(BenchError::Closed)?;
                let now = Instant::now();
                on_payload(now, &message.payload);
                for _ in 1..MAX_BATCH {
                    match subscriber.next().now_or_never() {
                        Some(Some(message)) => on_payload(now, &message.payload),
                        Some(None) => return Err(BenchError::Closed),
                        None => break,
                    }
                }
                Ok(())
            }
        }
    }
}
