//! What an operator scraping `/metrics` sees while clients use the router:
//! the driver's stats observer feeds a `router-metrics` endpoint, and the
//! counters move by exactly what the clients did.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use router_core::Config;
use router_metrics::{MetricsServer, StatsCell};
use router_tests::{
    Client, Driver, Exposition, driver_tests, is_reset, scrape, scrape_until, start_observed,
    within,
};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

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
    let router = start_observed(driver, config, stats.publisher())?;
    let mut sender = Client::connect(router.addr).await?;
    let mut receiver = Client::connect(router.addr).await?;
    let before = scrape_until(metrics.local_addr(), "both clients counted", |m| {
        m.value(ACCEPTED) == 2.0
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

    let after = scrape_until(metrics.local_addr(), "the traffic counted", |m| {
        m.value(ROUTED) >= before.value(ROUTED) + FRAMES as f64
            && m.value(UNKNOWN_DESTINATION) > before.value(UNKNOWN_DESTINATION)
            && m.value(REFUSED) > before.value(REFUSED)
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
