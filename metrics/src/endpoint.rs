//! `GET /metrics` over HTTP, served by hyper on a thread of its own.
//!
//! The endpoint has its own one-thread tokio runtime, so it works beside any
//! driver (mio runs no runtime at all) and never competes with the event loop
//! for its thread. Its accept loop is ours rather than a library's so that a
//! failing `accept` (`EMFILE` when the router's clients hold every
//! descriptor: exactly when an operator wants to look) pauses the endpoint
//! instead of ending it.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::text;
use prometheus_client::registry::Registry;
use router_core::LogLimit;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tracing::{debug, warn};

use crate::{StatsCell, registry};

/// The path scrapes are served on; every other path is 404.
pub const METRICS_PATH: &str = "/metrics";

/// What `prometheus-client` writes: the OpenMetrics text format, which
/// Prometheus negotiates and parses (its `_total`, `# UNIT` and `# EOF`
/// lines are not the older text format's).
const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How long accepting pauses after an `accept` error other than a client
/// giving up.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The address could not be bound (taken, or not local).
    #[error("cannot listen for metrics scrapes on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS's reason.
        source: io::Error,
    },
    /// The endpoint's runtime or thread could not be created.
    #[error("cannot start the metrics endpoint: {0}")]
    Start(#[source] io::Error),
}

/// An HTTP endpoint serving what is published to a [`StatsCell`] at
/// [`METRICS_PATH`], until dropped.
#[derive(Debug)]
pub struct MetricsServer {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Binds `addr` and serves `cell`'s metrics from a new thread. Bind port
    /// 0 to let the OS pick, then read [`local_addr`](Self::local_addr).
    pub fn bind(addr: SocketAddr, cell: StatsCell) -> Result<MetricsServer, MetricsError> {
        Self::bind_with(addr, cell, Vec::new())
    }

    /// As [`bind`](Self::bind), and serves `extra`'s metrics beside the
    /// router's (a cluster bridge's, the TLS layer's).
    pub fn bind_with(
        addr: SocketAddr,
        cell: StatsCell,
        extra: Vec<Box<dyn Collector>>,
    ) -> Result<MetricsServer, MetricsError> {
        let bind_error = |source| MetricsError::Bind { addr, source };
        let listener = std::net::TcpListener::bind(addr).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(MetricsError::Start)?;
        let listener = {
            let _in_runtime = runtime.enter();
            TcpListener::from_std(listener).map_err(MetricsError::Start)?
        };
        let mut registry = registry(cell);
        for collector in extra {
            registry.register_collector(collector);
        }
        let registry = Arc::new(registry);
        let (stop, stopped) = oneshot::channel();
        let thread = thread::Builder::new()
            .name("metrics".to_owned())
            .spawn(move || runtime.block_on(serve(listener, registry, stopped)))
            .map_err(MetricsError::Start)?;
        Ok(MetricsServer {
            local_addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on, with the port the OS chose if bound to port 0.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for MetricsServer {
    /// Stops accepting, drops the connections open, and waits for the thread.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Accepts until `stopped`, serving each connection in a task of its own.
async fn serve(listener: TcpListener, registry: Arc<Registry>, mut stopped: oneshot::Receiver<()>) {
    // Accept fails this way when the process is out of file descriptors,
    // which the router's clients can cause: one line per interval then.
    let mut accept_warnings = LogLimit::default();
    loop {
        let accepted = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let registry = registry.clone();
                tokio::spawn(async move {
                    let service = service_fn(|request| {
                        let response = respond(&request, &registry);
                        async { Ok::<_, Infallible>(response) }
                    });
                    // With a timer, hyper closes a connection that sends no
                    // complete request head within 30 s.
                    let served = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                    if let Err(error) = served {
                        debug!(%peer, %error, "metrics connection failed");
                    }
                });
            }
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted
                ) => {}
            Err(error) => {
                if let Some(suppressed) = accept_warnings.allow(Instant::now()) {
                    warn!(
                        %error,
                        pause = ?ACCEPT_ERROR_PAUSE,
                        suppressed,
                        "metrics endpoint cannot accept"
                    );
                }
                tokio::select! {
                    _ = &mut stopped => return,
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => {}
                }
            }
        }
    }
}

fn respond(request: &Request<Incoming>, registry: &Registry) -> Response<Full<Bytes>> {
    if request.uri().path() != METRICS_PATH {
        return plain(
            StatusCode::NOT_FOUND,
            "not found: metrics are at /metrics\n",
        );
    }
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let mut exposition = String::new();
    if let Err(error) = text::encode(&mut exposition, registry) {
        warn!(%error, "could not encode the metrics");
        return plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "could not encode the metrics\n",
        );
    }
    let mut response = Response::new(Full::new(Bytes::from(exposition)));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(OPENMETRICS_CONTENT_TYPE),
    );
    response
}

fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{Ipv4Addr, TcpStream};

    use router_core::Stats;

    use super::*;

    fn any_port() -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
    }

    /// One request over a fresh connection; the whole response.
    fn request(addr: SocketAddr, method: &str, path: &str) -> String {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    #[test]
    fn serves_what_was_last_published() {
        let cell = StatsCell::new();
        let server = MetricsServer::bind(any_port(), cell.clone()).unwrap();
        let mut stats = Stats::default();
        stats.connections_accepted = 7;
        cell.publisher()(&stats);

        let response = request(server.local_addr(), "GET", "/metrics");
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(
            response.contains(&format!("content-type: {OPENMETRICS_CONTENT_TYPE}\r\n")),
            "{response}"
        );
        assert!(response.contains("\nrouter_connections_accepted_total 7\n"));
        assert!(response.ends_with("# EOF\n"));
    }

    #[test]
    fn other_paths_and_methods_are_refused() {
        let server = MetricsServer::bind(any_port(), StatsCell::new()).unwrap();
        let response = request(server.local_addr(), "GET", "/");
        assert!(
            response.starts_with("HTTP/1.1 404 Not Found\r\n"),
            "{response}"
        );
        let response = request(server.local_addr(), "POST", "/metrics");
        assert!(response.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(response.contains("allow: GET, HEAD\r\n"), "{response}");
    }

    #[test]
    fn a_taken_address_is_an_error_naming_it() {
        let taken = std::net::TcpListener::bind(any_port()).unwrap();
        let addr = taken.local_addr().unwrap();
        let error = MetricsServer::bind(addr, StatsCell::new()).unwrap_err();
        assert!(matches!(error, MetricsError::Bind { .. }));
        assert!(error.to_string().contains(&addr.to_string()), "{error}");
    }

    #[test]
    fn dropping_it_stops_serving() {
        let server = MetricsServer::bind(any_port(), StatsCell::new()).unwrap();
        let addr = server.local_addr();
        drop(server);
        assert!(TcpStream::connect(addr).is_err());
    }
}
