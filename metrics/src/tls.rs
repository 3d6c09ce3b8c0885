//! Whether TLS and client authentication are on, and the TLS layer's
//! handshake counters, as Prometheus metric families.

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use router_tls::{HandshakeFailure, TlsCounters};

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
            u64::from(self.tls.is_some()),
        )?;
        gauge(
            encoder,
            "router_tls_client_auth",
            "1 if clients must present a certificate from --tls-client-ca (mutual TLS).",
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
            HandshakeFailure::ALL.map(|cause| (cause.name(), counters.failed(cause))),
        )
    }
}

// The TLS families carry no `shard` label: every shard's TLS layer counts
// into the one `TlsCounters`, so these numbers are the process's sums.

fn counter(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: u64) -> fmt::Result {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

fn gauge(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: u64) -> fmt::Result {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

fn counter_by_cause<const N: usize>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    values: [(&'static str, u64); N],
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (cause, value) in values {
        ConstCounter::new(value).encode(family.encode_family(&[("cause", cause)])?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use prometheus_client::encoding::text;
    use prometheus_client::registry::Registry;
    use router_tls::test_certs::TestPki;
    use router_tls::{Tls, TlsLimits};

    use super::*;

    fn exposition(collector: TlsCollector) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(collector));
        let mut text = String::new();
        text::encode(&mut text, &registry).unwrap();
        text
    }

    #[test]
    fn without_tls_a_scrape_says_so_and_nothing_more() {
        let text = exposition(TlsCollector::off());
        assert!(text.contains("router_tls_enabled 0\n"), "{text}");
        assert!(text.contains("router_tls_client_auth 0\n"), "{text}");
        assert!(!text.contains("handshakes"), "{text}");
    }

    #[test]
    fn with_tls_every_failure_cause_is_listed_and_counted() {
        let pki = TestPki::new();
        let counters = Arc::new(TlsCounters::default());
        let mut tls = Tls::new(
            pki.server_config(true, TlsLimits::default()),
            Arc::clone(&counters),
        );
        let now = Instant::now();
        let id = tls.accept(now).unwrap();
        tls.handle_input(id, b"not a ClientHello", now);

        let text = exposition(TlsCollector::on(counters, true));
        assert!(text.contains("router_tls_enabled 1\n"), "{text}");
        assert!(text.contains("router_tls_client_auth 1\n"), "{text}");
        assert!(
            text.contains("router_tls_handshakes_completed_total 0\n"),
            "{text}"
        );
        for cause in HandshakeFailure::ALL {
            let count = u64::from(cause == HandshakeFailure::Protocol);
            let sample = format!(
                "router_tls_handshakes_failed_total{{cause=\"{}\"}} {count}\n",
                cause.name()
            );
            assert!(text.contains(&sample), "no {sample:?} in:\n{text}");
            assert!(
                text.contains(&format!("{} (", cause.name())),
                "help for {cause:?}"
            );
        }
    }
}
