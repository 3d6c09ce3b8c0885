//! The router's counters for Prometheus, whatever the driver.
//!
//! The [`Router`](router_core::Router) is owned by one event loop and keeps
//! its [`Stats`](router_core::Stats) as plain integers, without atomics or
//! locks. To read them from elsewhere, the driver hands a copy to a
//! [`StatsCell`] once per turn of its loop (the driver's *stats observer*,
//! made by [`StatsCell::publisher`]); a [`MetricsServer`] on a thread of its
//! own encodes the latest copy for each scrape of `/metrics`, in the
//! OpenMetrics text format that Prometheus reads. Nothing happens per frame,
//! and the event loop never waits for a scrape longer than a copy takes.
//!
//! ```no_run
//! use router_metrics::{MetricsServer, StatsCell};
//!
//! let stats = StatsCell::new();
//! let metrics = MetricsServer::bind("127.0.0.1:9090".parse()?, stats.clone())?;
//! let listener = std::net::TcpListener::bind("127.0.0.1:8080")?;
//! let router = router_core::Router::new(Default::default())?;
//! let server = driver_mio::Server::new(listener, router)?.with_stats_observer(stats.publisher());
//! server.run()?;
//! # drop(metrics);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The metric families, one per field of `Stats`, are listed with their
//! meaning in the repository README's "Operating the router" section, and
//! with their help text in [`StatsCollector`]'s source.

mod cell;
mod collector;
mod endpoint;
mod tls;

pub use cell::{Published, ShardStats, StatsCell};
pub use collector::{StatsCollector, registry};
pub use endpoint::{METRICS_PATH, MetricsError, MetricsServer};
pub use tls::TlsCollector;
