//! What an operator scraping `/metrics` sees while clients use the router:
//! the driver's stats observer feeds a `router-metrics` endpoint, and the
//! counters move by exactly what the clients did.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use router_core::{Config, DropCause, Stats};
use router_metrics::{MetricsServer, StatsCell};
use router_tests::{
    Client, Driver, Exposition, driver_tests, is_reset, scrape, start_observed, within,
};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

driver_tests! {
    scraped_counters_follow_routed_dropped_and_refused,
}

/// An ID no test router hands out: they count up from 0.
const NEVER_ASSIGNED: u32 = 0xDEAD_BEEF;

const ROUTED: &str = "router_frames_routed_total";
const ROUTED_BYTES: &str = "router_routed_bytes_total";
const UNKNOWN_DESTINATION: &str = "router_frames_dropped_total{cause=\"unknown_destination\"}";
const UNKNOWN_DESTINATION_BYTES: &str = "router_dropped_bytes_total{cause=\"unknown_destination\"}";
const ACCEPTED: &str = "router_connections_accepted_total";
const REFUSED: &str = "router_connections_refused_total";
const OPEN: &str = "router_connections_open";

/// Frames routed, one dropped to an unknown destination, and a connection
/// refused at the limit each show up in the next scrapes, by exactly that
/// much, under their own names and causes.
async fn scraped_counters_follow_routed_dropped_and_refused(driver: Driver) -> io::Result<()> {
    const FRAMES: usize = 25;
    let stats = StatsCell::new();
    let metrics = MetricsServer::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), stats.clone())
        .map_err(io::Error::other)?;
    let config = Config {
        max_connections: 2,
        ..Config::default()
    };
    let (observer, mut published) = publish_and_watch(&stats);
    let router = start_observed(driver, config, observer)?;
    let mut sender = Client::connect(router.addr).await?;
    let mut receiver = Client::connect(router.addr).await?;
    let before = scrape_once_published(metrics.local_addr(), &mut published, "both clients", |s| {
        s.connections_accepted == 2
    })
    .await?;

    let payloads: Vec<Vec<u8>> = (0..FRAMES)
        .map(|i| format!("frame {i}").into_bytes())
        .collect();
    for payload in &payloads {
        sender.send(receiver.id, payload).await?;
    }
    sender.send(NEVER_ASSIGNED, b"nobody home").await?;
    for payload in &payloads {
        receiver.expect_delivery(payload).await?;
    }
    expect_refused(router.addr).await?;

    let after = scrape_once_published(metrics.local_addr(), &mut published, "the traffic", |s| {
        s.routed.frames >= FRAMES as u64
            && s.dropped(DropCause::UnknownDestination).frames > 0
            && s.connections_refused > 0
    })
    .await?;
    let moved = |series: &str| after.value(series) - before.value(series);
    let payload_bytes: usize = payloads.iter().map(|p| p.len() + 1).sum();
    assert_eq!(moved(ROUTED), FRAMES as f64);
    assert_eq!(moved(ROUTED_BYTES), payload_bytes as f64);
    assert_eq!(moved(UNKNOWN_DESTINATION), 1.0);
    assert_eq!(
        moved(UNKNOWN_DESTINATION_BYTES),
        b"nobody home\0".len() as f64
    );
    assert_eq!(moved(REFUSED), 1.0);
    assert_eq!(
        moved(ACCEPTED),
        0.0,
        "the refused connection was not accepted"
    );
    assert_eq!(after.value(OPEN), 2.0);
    for cause in ["destination_full", "destination_closed", "truncated"] {
        let series = format!("router_frames_dropped_total{{cause=\"{cause}\"}}");
        assert_eq!(after.value(&series), 0.0, "{series}");
    }

    let stats = router.stop().await?;
    assert_eq!(stats.routed.frames, FRAMES as u64);
    assert_final_counters_published(&scrape(metrics.local_addr()).await?);
    Ok(())
}

/// The driver's stats observer for the test: publishes to `stats`, the
/// endpoint's cell, and then to a watch channel, so that the test can await
/// the publication it needs instead of scraping until it shows.
fn publish_and_watch(
    stats: &StatsCell,
) -> (impl FnMut(&Stats) + Send + 'static, watch::Receiver<Stats>) {
    let (watched, published) = watch::channel(Stats::default());
    let mut publish = stats.publisher();
    let observer = move |current: &Stats| {
        publish(current);
        watched.send_replace(current.clone());
    };
    (observer, published)
}

/// Waits until the driver has published counters for which `ready` holds,
/// then scrapes once: the endpoint shows that publication or a later one.
async fn scrape_once_published(
    addr: SocketAddr,
    published: &mut watch::Receiver<Stats>,
    what: &str,
    ready: impl FnMut(&Stats) -> bool,
) -> io::Result<Exposition> {
    within(&format!("{what} published"), published.wait_for(ready))
        .await?
        .map_err(io::Error::other)?;
    scrape(addr).await
}

/// Connects past the limit and checks that the router closes the
/// connection without sending an ID.
async fn expect_refused(addr: SocketAddr) -> io::Result<()> {
    let mut refused = within("connection", TcpStream::connect(addr)).await??;
    let mut byte = [0; 1];
    match within("refusal", refused.read(&mut byte)).await? {
        Ok(0) => Ok(()),
        Err(error) if is_reset(&error) => Ok(()),
        Ok(_) => panic!("a connection past the limit was sent a byte: {byte:?}"),
        Err(error) => Err(error),
    }
}

/// The driver's last observation is of the drained router, so the endpoint,
/// which outlives it, shows every connection closed by the shutdown.
fn assert_final_counters_published(last: &Exposition) {
    assert_eq!(last.value(OPEN), 0.0);
    assert_eq!(
        last.value("router_connections_closed_total{cause=\"shutdown\"}"),
        2.0
    );
}
