//! Connecting to our router: TCP connect (and a TLS handshake, with TLS on),
//! then wait for the 4-byte ID.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

use super::{ReadHalf, WriteHalf};
use crate::cli::Placement;
use crate::error::BenchError;
use crate::protocol::read_id;

/// How long a new connection may wait for its ID: the protocol says it comes
/// immediately, so this only catches a wedged server.
const ID_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects (over TLS with `tls`) and returns the ID the router assigned,
/// with both halves of the connection.
async fn connect(addr: &str, tls: Option<TlsConnector>) -> Result<Connected, BenchError> {
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

/// A connected client: its ID and both socket halves.
type Connected = (u32, ReadHalf, WriteHalf);

/// Connections made before one lands on the wanted shard: placement
/// alternates shards, so two or three do unless shards are uneven.
const PLACEMENT_TRIES: usize = 64;

/// Places clients on the router's shards by the shard bits of their IDs,
/// connecting again until one lands where it is wanted; the others are
/// kept, idle, for later clients that want their shard.
#[derive(Clone)]
pub(crate) struct Placer {
    placement: Placement,
    /// Shard bits at the top of each ID.
    shard_bits: u32,
    spares: Arc<Mutex<Vec<Connected>>>,
}

// By hand: the spares' halves are trait objects, without `Debug`.
impl std::fmt::Debug for Placer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Placer")
            .field("placement", &self.placement)
            .field("shard_bits", &self.shard_bits)
            .finish_non_exhaustive()
    }
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

    /// A client (over TLS with `tls`) placed as wanted relative to the
    /// client with ID `partner`.
    pub(crate) async fn connect(
        &self,
        addr: &str,
        tls: Option<TlsConnector>,
        partner: Option<u32>,
    ) -> Result<Connected, BenchError> {
        {
            let mut spares = self.spares.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(index) = spares.iter().position(|(id, ..)| self.wanted(*id, partner)) {
                return Ok(spares.swap_remove(index));
            }
        }
        for _ in 0..PLACEMENT_TRIES {
            let connected = connect(addr, tls.clone()).await?;
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
