//! The `router` binary as an operator runs it: a signal drains it cleanly.

use std::io;

use router_tests::{Client, Driver, RouterProcess, driver_tests, frame};

driver_tests! {
    sigterm_drains_queued_frames_then_exits_zero,
}

/// Frames queued to a client that is not reading when SIGTERM arrives still
/// reach it, then the router closes it and exits with status 0.
async fn sigterm_drains_queued_frames_then_exits_zero(driver: Driver) -> io::Result<()> {
    // 8 MiB: twice what the kernel's socket buffers can hold (the reader's
    // receive window is made small, and a send buffer grows to 4 MiB at
    // most), so that most of it is still queued in the router at SIGTERM.
    // The high-water mark is raised so the sender is never paused.
    const FRAMES: usize = 128;
    const FRAME_BYTES: usize = 64 << 10;
    let router = RouterProcess::spawn(driver, &["--outbound-high-water", "16MiB"]).await?;
    let mut reader = Client::connect_with_receive_buffer(router.addr, 4096).await?;
    let mut sender = Client::connect(router.addr).await?;

    let payloads: Vec<Vec<u8>> = (0..FRAMES)
        .map(|i| format!("{i:04}").into_bytes().repeat(FRAME_BYTES / 4))
        .collect();
    let mut burst: Vec<u8> = payloads
        .iter()
        .flat_map(|payload| frame(reader.id, payload))
        .collect();
    // The router reads a sender's stream in order: once the sender's note to
    // itself comes back, every frame before it has been routed.
    burst.extend_from_slice(&frame(sender.id, b"all routed"));
    sender.write_raw(&burst).await?;
    sender.expect_delivery(b"all routed").await?;

    router.terminate()?;
    for payload in &payloads {
        reader.expect_delivery(payload).await?;
    }
    reader.expect_closed().await?;
    sender.expect_closed().await?;
    router.expect_clean_exit().await
}
