//! The node's one NATS connection: its subscription, and the publishing of
//! every core's batches.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use async_nats::{Client, ConnectOptions, Event, Subject};
use bytes::Bytes;
use futures_util::StreamExt;
use router_core::peer::wire::{HEADER_LEN, MAGIC};
use router_links::Doorbell;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::inbox::Inbox;
use crate::links::{NatsLinks, Outbox};
use crate::options::{ClusterOptions, NatsAuth};
use crate::stats::{ClusterStats, NodeTraffic};

/// Why the bridge could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The options name a node or a shard count the layout cannot hold.
    #[error("{0}")]
    Options(String),
    /// The bridge's runtime could not start.
    #[error("starting the NATS bridge's runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The credentials file could not be read.
    #[error("reading the NATS credentials file: {0}")]
    Credentials(#[source] std::io::Error),
    /// No connection to the NATS server.
    #[error("connecting to NATS: {0}")]
    Connect(#[from] async_nats::ConnectError),
    /// The node's subject could not be subscribed.
    #[error("subscribing to NATS: {0}")]
    Subscribe(#[from] async_nats::SubscribeError),
    /// The server did not confirm the subscription.
    #[error("flushing the subscription to NATS: {0}")]
    Flush(String),
    /// [`Bridge::links`] was asked twice for one shard, or for one it does
    /// not run.
    #[error("shard {0} is not this node's, or its links were taken already")]
    Shard(u32),
}

/// What the bridge's tasks and the cores' links share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) stats: Arc<ClusterStats>,
    pub(crate) cores: Vec<CoreSlot>,
    /// The NATS connection is up: batches are taken.
    pub(crate) connected: AtomicBool,
    /// Connections established, the first included.
    connects: AtomicU64,
    pub(crate) node: u32,
}

/// One core of this node, as the bridge sees it.
#[derive(Debug)]
pub(crate) struct CoreSlot {
    pub(crate) inbox: Inbox,
    /// Rung when a batch arrives for it; set by [`Bridge::links`].
    pub(crate) doorbell: OnceLock<Arc<Doorbell>>,
    /// A batch it was refused may go now (the outbox has room, or NATS is
    /// back): [`PeerLinks::has_room_again`](router_links::PeerLinks).
    pub(crate) room_again: AtomicBool,
}

impl CoreSlot {
    /// The core may offer its refused batch again: flag, then ring, so that
    /// the woken loop sees the flag.
    pub(crate) fn room_again(&self) {
        self.room_again.store(true, Ordering::SeqCst);
        if let Some(bell) = self.doorbell.get() {
            bell.ring();
        }
    }
}

impl Shared {
    /// Every core may send again: NATS is back.
    fn room_for_all(&self) {
        for core in &self.cores {
            core.room_again();
        }
    }

    fn on_event(&self, event: Event) {
        match event {
            Event::Connected => {
                let first = self.connects.fetch_add(1, Ordering::SeqCst) == 0;
                if !self.connected.swap(true, Ordering::SeqCst) && !first {
                    info!("NATS connection back");
                    ClusterStats::bump(&self.stats.reconnects, 1);
                    // Cores holding refused batches offer them again now.
                    self.room_for_all();
                }
            }
            Event::Disconnected => {
                warn!("NATS connection lost: peers' batches wait in their cores");
                self.connected.store(false, Ordering::SeqCst);
                ClusterStats::bump(&self.stats.disconnects, 1);
            }
            Event::SlowConsumer(_) => {
                // One message dropped by async-nats; the core sees the gap.
                ClusterStats::bump(&self.stats.slow_consumer_events, 1);
            }
            other => debug!(event = %other, "NATS event"),
        }
    }

    /// Hands a message from this node's subject to the core its header
    /// names. The core checks it whole; here only enough is read to route it.
    fn dispatch(&self, batch: Bytes) {
        let Some((from_node, to_node, to_shard)) = peek(&batch) else {
            ClusterStats::bump(&self.stats.unroutable, 1);
            return;
        };
        let core = self
            .cores
            .get(to_shard as usize)
            .filter(|_| to_node == self.node);
        let Some(core) = core else {
            ClusterStats::bump(&self.stats.unroutable, 1);
            return;
        };
        if let Some(traffic) = self.stats.nodes.get(from_node as usize) {
            ClusterStats::bump(&traffic.batches_in, 1);
            ClusterStats::bump(&traffic.bytes_in, batch.len() as u64);
            ClusterStats::bump(&traffic.frames_in, NodeTraffic::frames_in_batch(&batch));
        }
        if !core.inbox.push(batch) {
            ClusterStats::bump(&self.stats.inbox_full, 1);
            return;
        }
        if let Some(bell) = core.doorbell.get() {
            bell.ring();
        }
    }
}

/// The sender's node, and the receiver's node and shard, of what looks like
/// a batch.
fn peek(batch: &[u8]) -> Option<(u32, u32, u32)> {
    if batch.len() < HEADER_LEN || batch[..4] != MAGIC {
        return None;
    }
    let at = |i: usize| u32::from_be_bytes(batch[i..i + 4].try_into().expect("4 bytes"));
    Some((at(8), at(16), at(20)))
}

/// A node's bridge to NATS: one connection, one subscription, and the links
/// of each of its cores ([`links`](Self::links)). Dropping it closes the
/// connection.
#[derive(Debug)]
pub struct Bridge {
    runtime: Option<Runtime>,
    client: Client,
    shared: Arc<Shared>,
    options: ClusterOptions,
    subjects: Arc<[Subject]>,
    max_payload: usize,
}

impl Bridge {
    /// Connects to NATS and subscribes to this node's subject, on a runtime
    /// of its own (one thread) that no core's loop ever waits on.
    pub fn connect(options: ClusterOptions) -> Result<Bridge, ClusterError> {
        if options.node >= options.nodes() {
            return Err(ClusterError::Options(format!(
                "node {} does not fit node_bits {}",
                options.node, options.node_bits
            )));
        }
        if options.shards == 0 || u64::from(options.shards) > 1u64 << options.shard_bits {
            return Err(ClusterError::Options(format!(
                "{} shards do not fit shard_bits {}",
                options.shards, options.shard_bits
            )));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("nats-bridge")
            .enable_all()
            .build()
            .map_err(ClusterError::Runtime)?;
        let shared = Arc::new(Shared {
            stats: Arc::new(ClusterStats::new(options.nodes())),
            cores: (0..options.shards)
                .map(|_| CoreSlot {
                    inbox: Inbox::new(options.inbox_bytes),
                    doorbell: OnceLock::new(),
                    room_again: AtomicBool::new(false),
                })
                .collect(),
            connected: AtomicBool::new(false),
            connects: AtomicU64::new(0),
            node: options.node,
        });
        let client = runtime.block_on(connect(&options, &shared))?;
        shared.connected.store(true, Ordering::SeqCst);
        let max_payload = client.server_info().max_payload;
        let subscriber = runtime.block_on(async {
            let subscriber = client.subscribe(options.subject(options.node)).await?;
            // Once the server answers the flush's ping it holds the
            // subscription: a batch published from now on reaches it.
            client
                .flush()
                .await
                .map_err(|error| ClusterError::Flush(error.to_string()))?;
            Ok::<_, ClusterError>(subscriber)
        })?;
        let dispatching = shared.clone();
        runtime.spawn(async move {
            let mut subscriber = subscriber;
            while let Some(message) = subscriber.next().await {
                dispatching.dispatch(message.payload);
            }
        });
        let subjects: Arc<[Subject]> = (0..options.nodes())
            .map(|node| Subject::from(options.subject(node)))
            .collect();
        info!(
            node = options.node,
            max_payload, "joined the cluster over NATS"
        );
        Ok(Bridge {
            runtime: Some(runtime),
            client,
            shared,
            options,
            subjects,
            max_payload,
        })
    }

    /// The largest message the NATS server takes, as it announced: the
    /// cores' [`Config::max_batch_bytes`](router_core::Config::max_batch_bytes).
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// The bridge's counters, for the metrics endpoint.
    pub fn stats(&self) -> Arc<ClusterStats> {
        self.shared.stats.clone()
    }

    /// The options the bridge was started with.
    pub fn options(&self) -> &ClusterOptions {
        &self.options
    }

    /// The links of shard `shard` of this node to every core of every other
    /// node; batches arriving for it ring `doorbell`. Once per shard.
    pub fn links(&self, shard: u32, doorbell: Arc<Doorbell>) -> Result<NatsLinks, ClusterError> {
        let slot = self
            .shared
            .cores
            .get(shard as usize)
            .ok_or(ClusterError::Shard(shard))?;
        slot.doorbell
            .set(doorbell)
            .map_err(|_| ClusterError::Shard(shard))?;
        let outbox = Arc::new(Outbox::new(self.options.outbox_bytes));
        let (to_publish, publishing) = mpsc::unbounded_channel();
        let runtime = self.runtime.as_ref().expect("running until dropped");
        runtime.spawn(publish(
            self.client.clone(),
            self.subjects.clone(),
            publishing,
            outbox.clone(),
            self.shared.clone(),
            shard,
        ));
        Ok(NatsLinks::new(
            &self.options,
            shard,
            self.shared.clone(),
            outbox,
            to_publish,
        ))
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // Not blocking: the bridge may be dropped inside another runtime.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn connect(options: &ClusterOptions, shared: &Arc<Shared>) -> Result<Client, ClusterError> {
    let mut connect = ConnectOptions::new()
        .name(format!("router node {}", options.node))
        .subscription_capacity(options.subscription_capacity);
    match &options.auth {
        NatsAuth::Url => {}
        NatsAuth::Token(token) => connect = connect.token(token.clone()),
        NatsAuth::CredsFile(path) => {
            connect = connect
                .credentials_file(path)
                .await
                .map_err(ClusterError::Credentials)?;
        }
    }
    let events = shared.clone();
    connect = connect.event_callback(move |event| {
        events.on_event(event);
        async {}
    });
    Ok(connect.connect(options.url.as_str()).await?)
}

/// Publishes one core's batches in order, and rings the core when its
/// outbox, once full, has room again.
async fn publish(
    client: Client,
    subjects: Arc<[Subject]>,
    mut batches: mpsc::UnboundedReceiver<(u32, Bytes)>,
    outbox: Arc<Outbox>,
    shared: Arc<Shared>,
    shard: u32,
) {
    while let Some((node, batch)) = batches.recv().await {
        let len = batch.len();
        let subject = subjects[node as usize].clone();
        if let Err(error) = client.publish(subject, batch).await {
            debug!(%error, node, "publish failed");
            ClusterStats::bump(&shared.stats.publish_errors, 1);
        }
        if outbox.published(len) {
            shared.cores[shard as usize].room_again();
        }
    }
}
