//! A router of several shards in one process: one event loop and one
//! [`Router`] core per thread, joined by rings ([`router_mesh`]), taking
//! turns at one listener ([`placement`](crate::placement)).

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread;

use router_core::{Config, ConfigError, IdLayout, Router, Stats};
use router_links::{Doorbell, NodeLinks, PeerLinks};
use router_metrics::{ShardStats, StatsCell};
use router_tls::{Tls, TlsConfig, TlsCounters, TlsLimits};
use socket2::SockRef;
use tracing::error;

use crate::placement::Placement;
use crate::stats_sum::{StatsSum, total};
use crate::{Driver, Server, ShutdownHandle};

/// Batches a ring between two shards holds. The router's `peer_window`
/// bounds the bytes in flight; this bounds the batches, so that a burst of
/// small ones cannot grow a ring: one that is full refuses the next batch,
/// which the router keeps and grows until there is room.
pub const RING_SLOTS: usize = 256;

/// How many shards to run: a number, or one per CPU the process may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shards {
    /// This many.
    Count(NonZeroUsize),
    /// One per CPU this process may run on (`available_parallelism`).
    Auto,
}

impl Shards {
    /// One shard: the router of a single core.
    pub const ONE: Shards = Shards::Count(NonZeroUsize::MIN);

    /// How many shards this is on this machine.
    pub fn count(self) -> usize {
        match self {
            Shards::Count(n) => n.get(),
            Shards::Auto => thread::available_parallelism().map_or(1, NonZeroUsize::get),
        }
    }
}

impl std::str::FromStr for Shards {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "auto" {
            return Ok(Shards::Auto);
        }
        text.parse::<NonZeroUsize>()
            .map(Shards::Count)
            .map_err(|_| format!("`{text}` is neither a number of shards (1 or more) nor `auto`"))
    }
}

/// The ID layout of shard `shard` of `shards`: as few shard bits as hold
/// them all (none for one shard).
pub fn shard_layout(shards: usize, shard: usize) -> IdLayout {
    IdLayout::new(0, 0, shard_bits(shards), shard as u32)
}

/// Where a node sits in a cluster: its index, and the bits of an ID that
/// name a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodePlace {
    /// The node's index, below `2^node_bits`.
    pub node: u32,
    /// The bits of an ID naming its node, the same on every node.
    pub node_bits: u8,
}

impl NodePlace {
    /// The ID layout of shard `shard` of `shards` on this node.
    pub fn layout(self, shards: usize, shard: usize) -> IdLayout {
        IdLayout::new(self.node_bits, self.node, shard_bits(shards), shard as u32)
    }
}

/// The shard bits of a node of `shards` shards: as few as hold them all.
pub fn shard_bits(shards: usize) -> u8 {
    shards.next_power_of_two().trailing_zeros() as u8
}

/// Makes one shard's links to the other nodes.
type RemoteLinks<'a> = dyn FnMut(usize, Arc<Doorbell>) -> io::Result<Box<dyn PeerLinks>> + 'a;

/// Why a [`Config`] cannot be split over the shards.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// Each shard needs room for one connection at least.
    #[error("max_connections ({max}) must be at least the number of shards ({shards})")]
    TooFewConnections {
        /// The process's `max_connections`.
        max: usize,
        /// The shards.
        shards: usize,
    },
    /// Each shard's share of the budget must hold one frame.
    #[error(
        "max_buffered_bytes ({budget}) must be at least max_frame_bytes ({frame}) \
         times the number of shards ({shards})"
    )]
    BudgetTooSmall {
        /// The process's `max_buffered_bytes`.
        budget: usize,
        /// `max_frame_bytes`.
        frame: usize,
        /// The shards.
        shards: usize,
    },
    /// The shard's config is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// The config of shard `shard` of `shards`: `config` with the shard's ID
/// layout ([`shard_layout`]; a lone shard keeps `config`'s), and its share
/// of the limits that bound the whole process: `max_connections` (shares
/// differ by one at most and add up to it) and `max_buffered_bytes` (an
/// equal share). Every other limit bounds a connection or a link, and holds
/// in each shard as it is.
pub fn shard_config(config: &Config, shards: usize, shard: usize) -> Result<Config, SplitError> {
    let max = config.max_connections;
    let budget = config.max_buffered_bytes;
    if shards == 1 {
        config.validate()?;
        return Ok(config.clone());
    }
    if max < shards {
        return Err(SplitError::TooFewConnections { max, shards });
    }
    if budget / shards < config.max_frame_bytes {
        let frame = config.max_frame_bytes;
        return Err(SplitError::BudgetTooSmall {
            budget,
            frame,
            shards,
        });
    }
    let config = Config {
        id_layout: shard_layout(shards, shard),
        max_connections: max / shards + usize::from(shard < max % shards),
        max_buffered_bytes: budget / shards,
        ..config.clone()
    };
    config.validate()?;
    Ok(config)
}

/// The TLS limits of shard `shard` of `shards`: `max_handshakes` split as
/// `max_connections` is (shares differ by one at most and add up to it),
/// but never below one, so that no shard refuses every TLS client; the
/// handshake timeout holds in each shard as it is.
pub fn shard_tls_limits(limits: TlsLimits, shards: usize, shard: usize) -> TlsLimits {
    let max = limits.max_handshakes;
    let share = max / shards + usize::from(shard < max % shards);
    TlsLimits {
        max_handshakes: share.max(1),
        ..limits
    }
}

/// A router run as one or more shards on the driver chosen at run time: the
/// shape of [`Server`], for the whole process.
#[derive(Debug)]
pub struct ShardedServer {
    shards: Vec<Server>,
    doorbells: Vec<Arc<Doorbell>>,
    local_addr: SocketAddr,
    /// The listening socket the shards share, if more than one.
    listener: Option<Arc<TcpListener>>,
}

/// Starts the graceful shutdown of every shard of a [`ShardedServer`].
#[derive(Debug, Clone)]
pub struct ShardsShutdown {
    shards: Vec<ShutdownHandle>,
    /// The listening socket the shards share, if more than one.
    listener: Option<Arc<TcpListener>>,
}

impl ShardsShutdown {
    /// Asks every shard to drain; returns at once.
    ///
    /// Shards share one listening socket, which closes only when the last
    /// shard drops it; so it is shut down here first, for the kernel to
    /// refuse new clients at once, before any shard closes a connection.
    pub fn shutdown(&self) {
        if let Some(listener) = &self.listener {
            // Linux stops listening, which is all it is for: elsewhere the
            // socket closes with the last shard's drop.
            let _ = SockRef::from(&**listener).shutdown(Shutdown::Both);
        }
        self.shards.iter().for_each(ShutdownHandle::shutdown);
    }
}

impl ShardedServer {
    /// `shards` cores with `config` on `driver`, sharing the bound
    /// `listener`. Fails if `config` is invalid, or cannot be split over
    /// `shards` (see [`shard_config`]), or a shard's loop cannot be made.
    /// One shard is a plain [`Server`], with no rings and no turns.
    pub fn new(
        driver: Driver,
        listener: TcpListener,
        config: &Config,
        shards: usize,
    ) -> io::Result<ShardedServer> {
        Self::build(driver, listener, config, shards, None)
    }

    /// As [`new`](Self::new), for node `node` of a cluster whose IDs give
    /// their node `node_bits`: each shard's layout names the node too, and
    /// `remote(shard, doorbell)` makes the links of that shard to the other
    /// nodes (the NATS bridge's), whose deliveries ring `doorbell`.
    pub fn node(
        driver: Driver,
        listener: TcpListener,
        config: &Config,
        shards: usize,
        place: NodePlace,
        remote: &mut dyn FnMut(usize, Arc<Doorbell>) -> io::Result<Box<dyn PeerLinks>>,
    ) -> io::Result<ShardedServer> {
        Self::build(driver, listener, config, shards, Some((place, remote)))
    }

    fn build(
        driver: Driver,
        listener: TcpListener,
        config: &Config,
        shards: usize,
        mut cluster: Option<(NodePlace, &mut RemoteLinks<'_>)>,
    ) -> io::Result<ShardedServer> {
        let shards = shards.max(1);
        let local_addr = listener.local_addr()?;
        let configs = (0..shards)
            .map(|shard| {
                let mut config = shard_config(config, shards, shard)?;
                if let Some((place, _)) = &cluster {
                    // A node's shards name the node as well.
                    config.id_layout = place.layout(shards, shard);
                    config.validate()?;
                }
                Ok(config)
            })
            .collect::<Result<Vec<_>, SplitError>>()
            .map_err(|invalid| io::Error::new(io::ErrorKind::InvalidInput, invalid))?;
        let shares = configs.iter().map(|c| c.max_connections as u64).collect();
        let mut servers = Vec::with_capacity(shards);
        for config in configs {
            let router = Router::new(config)
                .map_err(|invalid| io::Error::new(io::ErrorKind::InvalidInput, invalid))?;
            servers.push(Server::new(driver, listener.try_clone()?, router)?);
        }
        let doorbells: Vec<_> = servers.iter().map(Server::doorbell).collect();
        let node = cluster.as_ref().map_or(0, |(place, _)| place.node);
        let mut local: Vec<Option<Box<dyn PeerLinks>>> = if shards > 1 {
            router_mesh::mesh(node, doorbells.clone(), RING_SLOTS)
                .into_iter()
                .map(|links| Some(Box::new(links) as Box<dyn PeerLinks>))
                .collect()
        } else {
            (0..shards).map(|_| None).collect()
        };
        let placement = (shards > 1).then(|| Placement::new(doorbells.clone(), shares));
        servers = servers
            .into_iter()
            .enumerate()
            .map(|(shard, mut server)| {
                let local = local[shard].take();
                let remote = match &mut cluster {
                    Some((_, remote)) => Some(remote(shard, doorbells[shard].clone())?),
                    None => None,
                };
                let links: Option<Box<dyn PeerLinks>> = match (local, remote) {
                    (Some(local), Some(remote)) => {
                        Some(Box::new(NodeLinks::new(node, local, remote)))
                    }
                    (one, other) => one.or(other),
                };
                if let Some(links) = links {
                    server = server.with_peer_links(links);
                }
                if let Some(placement) = &placement {
                    server = server.with_accept_gate(Box::new(placement.gate(shard)));
                }
                Ok(server)
            })
            .collect::<io::Result<_>>()?;
        Ok(ShardedServer {
            shards: servers,
            doorbells,
            local_addr,
            listener: (shards > 1).then(|| Arc::new(listener)),
        })
    }

    /// How many shards it runs.
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local_addr)
    }

    /// A handle that drains every shard, from any thread.
    pub fn shutdown_handle(&self) -> ShardsShutdown {
        ShardsShutdown {
            shards: self.shards.iter().map(Server::shutdown_handle).collect(),
            listener: self.listener.clone(),
        }
    }

    /// The doorbell of each shard, whose [`wakeups`](Doorbell::wakeups)
    /// count the times a peer shard's batch woke its sleeping loop.
    pub fn doorbells(&self) -> &[Arc<Doorbell>] {
        &self.doorbells
    }

    /// Serves clients over TLS on every shard: each shard's loop gets a TLS
    /// layer of its own, sharing `config`'s rustls `ServerConfig` (an `Arc`)
    /// and counting into `counters`, whose numbers are so the process's
    /// sums. `max_handshakes` bounds the process like `max_connections`:
    /// each shard gets its share ([`shard_tls_limits`]).
    pub fn with_tls(self, config: &TlsConfig, counters: &Arc<TlsCounters>) -> ShardedServer {
        let count = self.shards.len();
        let shards = (self.shards.into_iter().enumerate())
            .map(|(shard, server)| {
                let mut config = config.clone();
                config.limits = shard_tls_limits(config.limits, count, shard);
                server.with_tls(Tls::new(config, Arc::clone(counters)))
            })
            .collect();
        ShardedServer { shards, ..self }
    }

    /// Hands the sum of every shard's counters to `observer` each time one
    /// shard's loop publishes its own (once per turn of that loop, on its
    /// thread).
    pub fn with_stats_observer(
        self,
        mut observer: impl FnMut(&Stats) + Send + 'static,
    ) -> ShardedServer {
        self.observe_shards(move |total, _| observer(total))
    }

    /// Publishes the counters to `cell` once per turn of each shard's loop:
    /// their sum, and, for more than one shard, each shard's with the
    /// wake-ups its doorbell counted, which `router_metrics` labels by shard.
    pub fn with_stats_cell(self, cell: StatsCell) -> ShardedServer {
        if self.shards.len() == 1 {
            return self.with_stats_observer(cell.publisher());
        }
        let doorbells = self.doorbells.clone();
        let mut published = vec![ShardStats::default(); doorbells.len()];
        self.observe_shards(move |total, shards| {
            for ((out, stats), doorbell) in published.iter_mut().zip(shards).zip(&doorbells) {
                out.stats.clone_from(stats);
                out.wakeups = doorbell.wakeups();
            }
            cell.publish_shards(total, &published);
        })
    }

    /// Calls `observer` with the sum of every shard's counters and each
    /// shard's, each time one shard's loop publishes its own.
    fn observe_shards(
        self,
        observer: impl FnMut(&Stats, &[Stats]) + Send + 'static,
    ) -> ShardedServer {
        let sum = StatsSum::new(self.shards.len(), Box::new(observer));
        let shards = (self.shards.into_iter().enumerate())
            .map(|(shard, server)| server.with_stats_observer(sum.publisher(shard)))
            .collect();
        ShardedServer { shards, ..self }
    }

    /// Serves, one thread per shard, until a shutdown has drained every
    /// shard; returns the sum of their final counters.
    ///
    /// A shard that panics stops the process's router: every other shard is
    /// told to drain, and this returns an error naming the shard and its
    /// panic once they have, rather than leave half a router serving.
    pub fn run(self) -> io::Result<Stats> {
        if self.shards.len() == 1 {
            let [server] = <[Server; 1]>::try_from(self.shards).expect("one shard");
            return server.run();
        }
        let everyone = self.shutdown_handle();
        let threads = (self.shards.into_iter().enumerate())
            .map(|(shard, server)| {
                let everyone = everyone.clone();
                thread::Builder::new()
                    .name(format!("shard-{shard}"))
                    .spawn(move || run_shard(shard, server, &everyone))
            })
            .collect::<io::Result<Vec<_>>>()?;
        let mut stats = Vec::with_capacity(threads.len());
        let mut failure = None;
        for thread in threads {
            match thread
                .join()
                .expect("a shard's panic is caught in its thread")
            {
                Ok(shard_stats) => stats.push(shard_stats),
                Err(error) => failure = failure.or(Some(error)),
            }
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(total(&stats)),
        }
    }
}

/// Runs shard `shard` to the end; if it panics, or fails, drains the others.
fn run_shard(shard: usize, server: Server, everyone: &ShardsShutdown) -> io::Result<Stats> {
    let result = match catch_unwind(AssertUnwindSafe(|| server.run())) {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|text| text.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_string());
            Err(io::Error::other(format!(
                "shard {shard} panicked: {message}"
            )))
        }
    };
    if let Err(error) = &result {
        error!(shard, %error, "shard failed: stopping every shard");
        everyone.shutdown();
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(max_handshakes: usize, shards: usize) -> Vec<usize> {
        let limits = TlsLimits {
            max_handshakes,
            ..TlsLimits::default()
        };
        (0..shards)
            .map(|shard| shard_tls_limits(limits, shards, shard).max_handshakes)
            .collect()
    }

    #[test]
    fn handshakes_are_shared_out_and_add_up() {
        assert_eq!(split(1024, 1), [1024]);
        assert_eq!(split(1024, 2), [512, 512]);
        assert_eq!(split(7, 3), [3, 2, 2]);
    }

    #[test]
    fn every_shard_may_run_one_handshake() {
        assert_eq!(split(1, 3), [1, 1, 1]);
    }

    #[test]
    fn the_timeout_holds_in_every_shard() {
        let limits = TlsLimits::default();
        let shard = shard_tls_limits(limits, 4, 3);
        assert_eq!(shard.handshake_timeout, limits.handshake_timeout);
    }
}
