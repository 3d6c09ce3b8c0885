//! Whether TLS and client authentication are on, and the TLS layer's
//! handshake counters, as Prometheus metric families.

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use router_tls::{HandshakeFailure, TlsCounters};

use crate::collector::{counter, counter_by_cause, gauge};

/// A [`Collector`] for the TLS side of a router: register it beside
/// [`StatsCollector`](crate::StatsCollector), with TLS on or off, so that a
/// scrape always says which.
#[derive(Debug, Clone)]
pub struct TlsCollector {
    /// `None` with TLS off.
    tls: Option<(Arc<TlsCounters>, bool)>,
}

impl TlsCollector {
    /// For a router without TLS.
    pub fn off() -> Self {
        TlsCollector { tls: None }
    }

    /// For a router serving TLS, counting into `counters`, with or without
    /// client authentication (mutual TLS).
    pub fn on(counters: Arc<TlsCounters>, client_auth: bool) -> Self {
        TlsCollector {
            tls: Some((counters, client_auth)),
        }
    }
}

impl Collector for TlsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let encoder = &mut encoder;
        gauge(
            encoder,
            "router_tls_enabled",
            "1 if clients connect over TLS (--tls-cert), 0 for plain TCP.",
            None,
            u64::from(self.tls.is_some()),
        )?;
        gauge(
            encoder,
            "router_tls_client_auth",
            "1 if clients must present a certificate from --tls-client-ca (mutual TLS).",
            None,
            u64::from(self.tls.as_ref().is_some_and(|(_, auth)| *auth)),
        )?;
        let Some((counters, _)) = &self.tls else {
            return Ok(());
        };
        counter(
            encoder,
            "router_tls_handshakes_completed",
            "TLS handshakes completed; each client then got an ID, or was refused \
             as router_connections_refused_total counts.",
            None,
            counters.completed(),
        )?;
        counter_by_cause(
            encoder,
            "router_tls_handshakes_failed",
            "TLS handshakes that failed, by cause: timeout (not done within \
             --tls-handshake-timeout), certificate (mutual TLS: no client certificate, \
             or one no client CA issued), protocol (not TLS, or no common version or \
             cipher suite), closed (the client left first), too_many (refused at once: \
             --tls-max-handshakes under way).",
            None,
            HandshakeFailure::ALL.map(|cause| (cause.name(), counters.failed(cause))),
        )
    }
}
