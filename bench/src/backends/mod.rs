//! The systems under test, behind one interface: a [`Receiver`] that listens at an
//! [`Addr`], and a [`Sender`] bound to one destination.
//!
//! Every workload is written once against these types; each backend module only
//! knows how to open its connections.

mod direct;
mod nats;
mod receiver;
mod redis;
mod router;
mod sender;

use std::path::Path;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

pub(crate) use receiver::Receiver;
pub(crate) use sender::Sender;

use crate::cli::Placement;
use crate::error::BenchError;

/// A connection's read half, over TCP or TLS.
pub(crate) type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
/// A connection's write half, over TCP or TLS.
pub(crate) type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;

/// Which system carries the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum BackendKind {
    /// Our router, speaking the protocol of `PROTOCOL.md`.
    Router,
    /// Redis pub/sub: each receiver subscribes to its own channel.
    Redis,
    /// NATS core: each receiver subscribes to its own subject.
    Nats,
    /// No server: sender and receiver share one loopback TCP connection, the
    /// kernel's cost of one hop, as a ceiling for the others.
    Direct,
}

/// Where a receiver can be reached.
#[derive(Debug, Clone)]
pub(crate) enum Addr {
    /// A router client ID.
    Router(u32),
    /// A Redis channel name.
    Redis(String),
    /// A NATS subject.
    Nats(async_nats::Subject),
    /// The other end of a `direct` socket pair.
    Peer,
}

/// A client that both receives at `addr` and can send (pingpong needs both on one
/// identity).
pub(crate) struct Endpoint {
    addr: Addr,
    receiver: Receiver,
    outgoing: sender::Outgoing,
}

impl Endpoint {
    /// Binds the sending side to `dest`.
    fn towards(self, dest: &Addr) -> (Sender, Receiver) {
        (Sender::new(self.outgoing, dest), self.receiver)
    }
}

/// A connection to one backend server (or none, for `direct`).
#[derive(Debug, Clone)]
pub(crate) struct Backend {
    kind: BackendKind,
    /// `host:port` of the server; unused by `direct`.
    addr: String,
    /// Where router senders connect instead: another node of a cluster.
    send_addr: Option<String>,
    redis: Option<::redis::Client>,
    /// With `--tls-ca`: the CA file (NATS reads it itself) and a connector
    /// that trusts it.
    tls: Option<(std::path::PathBuf, Arc<ClientConfig>)>,
    /// Where the router's pairs go among its shards.
    placement: router::Placer,
}

impl Backend {
    /// A backend reached at `addr` (ignored for `direct`), over TLS trusting
    /// the CAs in `tls_ca` if given (router and NATS only).
    pub(crate) fn new(
        kind: BackendKind,
        addr: &str,
        tls_ca: Option<&Path>,
    ) -> Result<Self, BenchError> {
        let redis = match kind {
            BackendKind::Redis => Some(::redis::Client::open(format!("redis://{addr}/"))?),
            _ => None,
        };
        let tls = match (tls_ca, kind) {
            (None, _) => None,
            (Some(ca), BackendKind::Router | BackendKind::Nats) => {
                Some((ca.to_owned(), tls_client_config(ca)?))
            }
            (Some(_), _) => {
                return Err(BenchError::Unsupported(
                    "--tls-ca applies to the router and nats backends only",
                ));
            }
        };
        Ok(Self {
            kind,
            addr: addr.to_owned(),
            send_addr: None,
            redis,
            tls,
            placement: router::Placer::default(),
        })
    }

    fn tls_connector(&self) -> Option<TlsConnector> {
        self.tls
            .as_ref()
            .map(|(_, config)| TlsConnector::from(Arc::clone(config)))
    }

    fn tls_ca(&self) -> Option<&Path> {
        self.tls.as_ref().map(|(ca, _)| ca.as_path())
    }

    /// Router senders connect to `send_addr` (a second cluster node), if
    /// given, so that every pair crosses nodes; receivers stay at the
    /// backend's address.
    pub(crate) fn with_send_addr(self, send_addr: Option<String>) -> Result<Self, BenchError> {
        if send_addr.is_some() && self.kind != BackendKind::Router {
            return Err(BenchError::Usage(
                "--send-addr is for the router backend".into(),
            ));
        }
        Ok(Self { send_addr, ..self })
    }

    /// Places the two clients of each pair on a router of `shards` shards
    /// by `placement`.
    pub(crate) fn placed(self, placement: Placement, shards: u32) -> Self {
        Self {
            placement: router::Placer::new(placement, shards),
            ..self
        }
    }

    /// Which system this is.
    pub(crate) fn kind(&self) -> BackendKind {
        self.kind
    }

    /// Opens one connection that listens at a fresh address, named after `index`,
    /// and returns once the server will deliver to it (ID received, subscribed).
    pub(crate) async fn receiver(&self, index: u32) -> Result<(Addr, Receiver), BenchError> {
        match self.kind {
            BackendKind::Router => {
                let (id, read, write) = self
                    .placement
                    .connect(&self.addr, self.tls_connector(), None)
                    .await?;
                Ok((Addr::Router(id), Receiver::stream(read, Some(write))))
            }
            BackendKind::Redis => {
                let channel = channel_name(index);
                let stream = redis::subscribe(self.redis_client(), &channel).await?;
                Ok((Addr::Redis(channel), Receiver::Redis(stream)))
            }
            BackendKind::Nats => {
                let client = nats::connect(&self.addr, self.tls_ca()).await?;
                let subject = async_nats::Subject::from(channel_name(index));
                let subscriber = nats::subscribe(&client, &subject).await?;
                Ok((Addr::Nats(subject), Receiver::nats(subscriber, client)))
            }
            BackendKind::Direct => Err(BenchError::Unsupported(
                "the direct backend has no server to hold receivers: use pairs or pingpong",
            )),
        }
    }

    /// Opens one connection that sends to `dest`.
    pub(crate) async fn sender(&self, dest: &Addr) -> Result<Sender, BenchError> {
        let outgoing = match self.kind {
            BackendKind::Router => {
                let partner = match dest {
                    Addr::Router(id) => Some(*id),
                    _ => None,
                };
                let addr = self.send_addr.as_ref().unwrap_or(&self.addr);
                let (_id, read, write) = self
                    .placement
                    .connect(addr, self.tls_connector(), partner)
                    .await?;
                sender::Outgoing::Stream {
                    write,
                    _read: Some(read),
                }
            }
            BackendKind::Redis => {
                sender::Outgoing::Redis(redis::publisher(self.redis_client()).await?)
            }
            BackendKind::Nats => {
                sender::Outgoing::Nats(nats::connect(&self.addr, self.tls_ca()).await?)
            }
            BackendKind::Direct => {
                return Err(BenchError::Unsupported(
                    "the direct backend only links socket pairs: use pairs or pingpong",
                ));
            }
        };
        Ok(Sender::new(outgoing, dest))
    }

    /// A one-way link: a sender whose messages reach the returned receiver.
    pub(crate) async fn link(&self, index: u32) -> Result<(Sender, Receiver), BenchError> {
        if self.kind == BackendKind::Direct {
            let (a, b) = direct::socket_pair().await?;
            let (a_read, a_write) = a.into_split();
            let (b_read, b_write) = b.into_split();
            let sender = Sender::new(
                sender::Outgoing::Stream {
                    write: Box::new(a_write),
                    _read: Some(Box::new(a_read)),
                },
                &Addr::Peer,
            );
            return Ok((
                sender,
                Receiver::stream(Box::new(b_read), Some(Box::new(b_write))),
            ));
        }
        let (addr, receiver) = self.receiver(index).await?;
        Ok((self.sender(&addr).await?, receiver))
    }

    /// Two clients that can each send to the other (for round trips); indices
    /// `2 * index` and `2 * index + 1` name their addresses.
    pub(crate) async fn duplex(
        &self,
        index: u32,
    ) -> Result<((Sender, Receiver), (Sender, Receiver)), BenchError> {
        if self.kind == BackendKind::Direct {
            let (a, b) = direct::socket_pair().await?;
            let half = |s: TcpStream| {
                let (read, write) = s.into_split();
                let outgoing = sender::Outgoing::Stream {
                    write: Box::new(write),
                    _read: None,
                };
                (
                    Sender::new(outgoing, &Addr::Peer),
                    Receiver::stream(Box::new(read), None),
                )
            };
            return Ok((half(a), half(b)));
        }
        let a = self.endpoint(2 * index, None).await?;
        let partner = match a.addr {
            Addr::Router(id) => Some(id),
            _ => None,
        };
        let b = self.endpoint(2 * index + 1, partner).await?;
        let (a_addr, b_addr) = (a.addr.clone(), b.addr.clone());
        Ok((a.towards(&b_addr), b.towards(&a_addr)))
    }

    /// A client that subscribes (or takes its ID) and then never reads again: the
    /// slow consumer. Raw sockets, because the client crates read eagerly into
    /// unbounded queues and so would never exert back-pressure.
    pub(crate) async fn stalled(&self) -> Result<(Addr, TcpStream), BenchError> {
        if self.tls.is_some() {
            return Err(BenchError::Unsupported(
                "the slow consumer is a raw TCP socket: run slow without --tls-ca",
            ));
        }
        let name = "bench.stalled".to_owned();
        match self.kind {
            BackendKind::Router => {
                let (id, stream) = router::connect_whole(&self.addr).await?;
                Ok((Addr::Router(id), stream))
            }
            BackendKind::Redis => {
                let stream = redis::stalled_subscriber(&self.addr, &name).await?;
                Ok((Addr::Redis(name), stream))
            }
            BackendKind::Nats => {
                let stream = nats::stalled_subscriber(&self.addr, &name).await?;
                Ok((Addr::Nats(name.into()), stream))
            }
            BackendKind::Direct => Err(BenchError::Unsupported(
                "the direct backend has no server, so no slow consumer to share it with",
            )),
        }
    }

    /// Endpoint `index`; on the router, placed as asked relative to the
    /// client with ID `partner`.
    async fn endpoint(&self, index: u32, partner: Option<u32>) -> Result<Endpoint, BenchError> {
        Ok(match self.kind {
            BackendKind::Router => {
                let (id, read, write) = self
                    .placement
                    .connect(&self.addr, self.tls_connector(), partner)
                    .await?;
                Endpoint {
                    addr: Addr::Router(id),
                    receiver: Receiver::stream(read, None),
                    outgoing: sender::Outgoing::Stream { write, _read: None },
                }
            }
            BackendKind::Redis => {
                let (addr, receiver) = self.receiver(index).await?;
                let outgoing =
                    sender::Outgoing::Redis(redis::publisher(self.redis_client()).await?);
                Endpoint {
                    addr,
                    receiver,
                    outgoing,
                }
            }
            BackendKind::Nats => {
                // One NATS connection carries both directions, as a real client would.
                let client = nats::connect(&self.addr, self.tls_ca()).await?;
                let subject = async_nats::Subject::from(channel_name(index));
                let subscriber = nats::subscribe(&client, &subject).await?;
                Endpoint {
                    addr: Addr::Nats(subject),
                    receiver: Receiver::nats(subscriber, client.clone()),
                    outgoing: sender::Outgoing::Nats(client),
                }
            }
            BackendKind::Direct => {
                return Err(BenchError::Unsupported(
                    "direct endpoints exist only as socket pairs (see Backend::duplex)",
                ));
            }
        })
    }

    fn redis_client(&self) -> &::redis::Client {
        self.redis
            .as_ref()
            .expect("a redis backend always holds a client")
    }
}

/// A TLS client that trusts the CAs in the PEM file `ca`.
fn tls_client_config(ca: &Path) -> Result<Arc<ClientConfig>, BenchError> {
    let unusable = |err: &dyn std::fmt::Display| {
        BenchError::Usage(format!("--tls-ca {}: {err}", ca.display()))
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| unusable(&e))? {
        roots
            .add(cert.map_err(|e| unusable(&e))?)
            .map_err(|e| unusable(&e))?;
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| unusable(&e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The Redis channel or NATS subject of receiver `index`.
fn channel_name(index: u32) -> String {
    format!("bench.{index}")
}
