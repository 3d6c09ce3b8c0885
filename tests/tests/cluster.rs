//! The `router` binary as cluster nodes: two processes joined through a real
//! NATS server pass the reference exchange with one client on each, show
//! the cluster in `/metrics`, and drain on SIGTERM; a frame limit the
//! server's `max_payload` cannot carry is refused at start.

#[path = "../../cluster/tests/support/nats.rs"]
#[allow(dead_code, unreachable_pub)]
mod nats;

use std::io;

use nats::{NatsServer, free_port};
use router_tests::{Client, Driver, RouterProcess, scrape};

async fn node(
    server: &NatsServer,
    driver: Driver,
    node: u32,
    extra: &[&str],
) -> io::Result<RouterProcess> {
    let url = server.url();
    let node = node.to_string();
    let mut args = vec!["--nats", &url, "--node", &node, "--node-bits", "2"];
    args.extend_from_slice(extra);
    RouterProcess::spawn(driver, &args).await
}

#[tokio::test]
async fn two_router_processes_over_nats_pass_the_reference_exchange() -> io::Result<()> {
    let server = NatsServer::start();
    let metrics = format!("127.0.0.1:{}", free_port());
    let a = node(&server, Driver::Mio, 0, &["--metrics-addr", &metrics]).await?;
    let b = node(&server, Driver::Tokio, 1, &[]).await?;

    let mut one = Client::connect(a.addr).await?;
    let mut two = Client::connect(b.addr).await?;
    assert_ne!(one.id >> 30, two.id >> 30, "IDs name their node");
    one.send(two.id, b"hello, number 2").await?;
    two.expect_delivery(b"hello, number 2").await?;
    two.send(one.id, b"hello back, number 1").await?;
    one.expect_delivery(b"hello back, number 1").await?;

    let exposition = scrape(metrics.parse().expect("an address")).await?;
    assert_eq!(exposition.value("router_peer_frames_forwarded_total"), 1.0);
    assert!(exposition.value("router_cluster_batches_published_total{node=\"1\"}") >= 1.0);
    assert!(exposition.value("router_cluster_batches_delivered_total{node=\"1\"}") >= 1.0);
    assert_eq!(
        exposition.value("router_cluster_frames_published_total{node=\"1\"}"),
        1.0
    );
    assert_eq!(
        exposition.value("router_cluster_frames_delivered_total{node=\"1\"}"),
        1.0
    );
    assert_eq!(exposition.value("router_cluster_unroutable_total"), 0.0);

    a.terminate()?;
    b.terminate()?;
    a.expect_clean_exit().await?;
    b.expect_clean_exit().await
}

#[tokio::test]
async fn nodes_of_two_shards_each_carry_frames_between_every_shard() -> io::Result<()> {
    let server = NatsServer::start();
    let a = node(&server, Driver::Mio.sharded(2), 0, &[]).await?;
    let b = node(&server, Driver::Smol.sharded(2), 1, &[]).await?;
    // Clients that connect one after another alternate shards.
    let mut on_a = Vec::new();
    let mut on_b = Vec::new();
    for _ in 0..2 {
        on_a.push(Client::connect(a.addr).await?);
        on_b.push(Client::connect(b.addr).await?);
    }
    let shard_bit = |id: u32| (id >> 29) & 1;
    assert_ne!(
        shard_bit(on_a[0].id),
        shard_bit(on_a[1].id),
        "both shards of a"
    );
    assert_ne!(
        shard_bit(on_b[0].id),
        shard_bit(on_b[1].id),
        "both shards of b"
    );
    // Every shard of a to every shard of b, and back; and within a node.
    for (i, from_a) in on_a.iter_mut().enumerate() {
        for (j, from_b) in on_b.iter_mut().enumerate() {
            let payload = format!("a{i} to b{j}");
            from_a.send(from_b.id, payload.as_bytes()).await?;
            from_b.expect_delivery(payload.as_bytes()).await?;
            let payload = format!("b{j} to a{i}");
            from_b.send(from_a.id, payload.as_bytes()).await?;
            from_a.expect_delivery(payload.as_bytes()).await?;
        }
    }
    let other_shard = on_a[1].id;
    on_a[0].send(other_shard, b"across a's shards").await?;
    on_a[1].expect_delivery(b"across a's shards").await?;
    a.terminate()?;
    b.terminate()?;
    a.expect_clean_exit().await?;
    b.expect_clean_exit().await
}

#[tokio::test]
async fn a_frame_limit_over_the_nats_max_payload_is_refused_at_start() -> io::Result<()> {
    let server = NatsServer::with_max_payload(4096);
    let error = node(&server, Driver::Mio, 0, &["--max-frame-bytes", "4KiB"])
        .await
        .expect_err("refused");
    assert!(error.to_string().contains("max_payload"), "{error}");
    // Left to its default, the frame limit shrinks to what fits.
    let fits = node(&server, Driver::Mio, 0, &[]).await?;
    fits.terminate()?;
    fits.expect_clean_exit().await
}
