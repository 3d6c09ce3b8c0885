//! The sending side of a client, bound to one destination, batching many messages
//! per system call or per request.

use super::{Addr, ReadHalf, WriteHalf};
use crate::error::BenchError;
use crate::protocol::push_frame;
use bytes::Bytes;
use redis::aio::MultiplexedConnection;
use router_client::PayloadError;
use tokio::io::AsyncWriteExt;

/// A connection able to send, before it is bound to a destination.
pub(super) enum Outgoing {
    /// A router or `direct` socket.
    Stream {
        write: WriteHalf,
        /// The read half of a send-only connection, kept so that the socket stays
        /// open (the router sends nothing after the ID, so it is never read).
        _read: Option<ReadHalf>,
    },
    /// A Redis connection for `PUBLISH`.
    Redis(MultiplexedConnection),
    /// A NATS client.
    Nats(async_nats::Client),
}

/// Queues messages with [`Sender::queue`] and sends them with [`Sender::flush`].
pub(crate) struct Sender {
    inner: Inner,
}

enum Inner {
    Stream {
        write: WriteHalf,
        _read: Option<ReadHalf>,
        /// The router's frame header; `None` on a `direct` socket, which has no router
        /// to strip it.
        dest: Option<u32>,
        buf: Vec<u8>,
        /// The first payload [`Sender::queue`] refused, reported by the next flush.
        refused: Option<PayloadError>,
    },
    Redis {
        conn: MultiplexedConnection,
        channel: String,
        /// One pipeline per flush: many `PUBLISH`es per round trip.
        pipe: redis::Pipeline,
    },
    Nats {
        client: async_nats::Client,
        subject: async_nats::Subject,
        batch: Vec<Bytes>,
    },
}

impl Sender {
    /// Binds `outgoing` to `dest`.
    ///
    /// # Panics
    /// If `dest` belongs to another backend: that is a bug in a workload.
    pub(super) fn new(outgoing: Outgoing, dest: &Addr) -> Self {
        let inner = match (outgoing, dest) {
            (Outgoing::Stream { write, _read }, Addr::Router(id)) => Inner::Stream {
                write,
                _read,
                dest: Some(*id),
                buf: Vec::new(),
                refused: None,
            },
            (Outgoing::Stream { write, _read }, Addr::Peer) => Inner::Stream {
                write,
                _read,
                dest: None,
                buf: Vec::new(),
                refused: None,
            },
            (Outgoing::Redis(conn), Addr::Redis(channel)) => Inner::Redis {
                conn,
                channel: channel.clone(),
                pipe: redis::pipe(),
            },
            (Outgoing::Nats(client), Addr::Nats(subject)) => Inner::Nats {
                client,
                subject: subject.clone(),
                batch: Vec::new(),
            },
            (_, dest) => panic!("destination {dest:?} belongs to another backend"),
        };
        Self { inner }
    }

    /// Queues one message; nothing is sent before [`Sender::flush`]. A payload the
    /// router's protocol cannot carry (it holds `0x00`) is not queued, and the next
    /// flush fails with it.
    pub(crate) fn queue(&mut self, payload: &[u8]) {
        match &mut self.inner {
            Inner::Stream {
                dest, buf, refused, ..
            } => {
                if let Err(error) = push_frame(buf, *dest, payload) {
                    refused.get_or_insert(error);
                }
            }
            Inner::Redis { channel, pipe, .. } => {
                pipe.cmd("PUBLISH").arg(&*channel).arg(payload).ignore();
            }
            Inner::Nats { batch, .. } => batch.push(Bytes::copy_from_slice(payload)),
        }
    }

    /// Sends everything queued: one `write_all` on a socket, one pipelined request
    /// to Redis (awaiting its replies), or handing the messages to the NATS client's
    /// connection task, which coalesces them into large writes.
    pub(crate) async fn flush(&mut self) -> Result<(), BenchError> {
        match &mut self.inner {
            Inner::Stream {
                write,
                buf,
                refused,
                ..
            } => {
                if let Some(error) = refused.take() {
                    return Err(error.into());
                }
                write.write_all(buf).await?;
                buf.clear();
            }
            Inner::Redis { conn, pipe, .. } => {
                pipe.query_async::<()>(conn).await?;
                pipe.clear();
            }
            Inner::Nats {
                client,
                subject,
                batch,
            } => {
                for payload in batch.drain(..) {
                    client
                        .publish(subject.clone(), payload)
                        .await
                        .map_err(BenchError::nats)?;
                }
            }
        }
        Ok(())
    }

    /// Waits until everything flushed so far has left this process: the NATS
    /// client queues messages for its connection task, which would drop them if the
    /// client were dropped first. Sockets and Redis have nothing pending after a flush.
    pub(crate) async fn finish(&mut self) -> Result<(), BenchError> {
        if let Inner::Nats { client, .. } = &self.inner {
            client.flush().await.map_err(BenchError::nats)?;
        }
        Ok(())
    }
}
