//! Connecting to our router: TCP connect, then wait for the 4-byte ID.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::cli::Placement;
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

/// A connected client: its ID and both socket halves.
type Connected = (u32, OwnedReadHalf, OwnedWriteHalf);

/// Connections made before one lands on the wanted shard: placement
/// alternates shards, so two or three do unless shards are uneven.
const PLACEMENT_TRIES: usize = 64;

/// Places clients on the router's shards by the shard bits of their IDs,
/// connecting again until one lands where it is wanted; the others are
/// kept, idle, for later clients that want their shard.
#[derive(Debug, Clone)]
pub(crate) struct Placer {
    placement: Placement,
    /// Shard bits at the top of each ID.
    shard_bits: u32,
    spares: Arc<Mutex<Vec<Connected>>>,
}

impl Default for Placer {
    fn default() -> Self {
        Placer::new(Placement::Any, 1)
    }
}

impl Placer {
    /// Placement by `placement` on a router of `shards` shards.
    pub(crate) fn new(placement: Placement, shards: u32) -> Self {
        Placer {
            placement,
            shard_bits: shards.max(1).next_power_of_two().trailing_zeros(),
            spares: Arc::default(),
        }
    }

    fn shard(&self, id: u32) -> u32 {
        id.checked_shr(32 - self.shard_bits).unwrap_or(0)
    }

    fn wanted(&self, id: u32, partner: Option<u32>) -> bool {
        match (self.placement, partner) {
            (Placement::Same, Some(partner)) => self.shard(id) == self.shard(partner),
            (Placement::Cross, Some(partner)) => self.shard(id) != self.shard(partner),
            _ => true,
        }
    }

    /// A client placed as wanted relative to the client with ID `partner`.
    pub(crate) async fn connect(
        &self,
        addr: &str,
        partner: Option<u32>,
    ) -> Result<Connected, BenchError> {
        {
            let mut spares = self.spares.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(index) = spares.iter().position(|(id, ..)| self.wanted(*id, partner)) {
                return Ok(spares.swap_remove(index));
            }
        }
        for _ in 0..PLACEMENT_TRIES {
            let connected = connect(addr).await?;
            if self.wanted(connected.0, partner) {
                return Ok(connected);
            }
            self.spares
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(connected);
        }
        Err(BenchError::Unsupported(
            "no connection landed on the wanted shard: is --shards the router's?",
        ))
    }
}
