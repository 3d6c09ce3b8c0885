//! Every driver, out of file descriptors: see
//! [`router_tests::exhaust_descriptors_then_recover`].
//!
//! The descriptor limit is per process, so this binary holds one test, which
//! runs the drivers one after another.
#![cfg(target_os = "linux")]

use std::io;

use router_core::Config;
use router_tests::{Driver, exhaust_descriptors_then_recover, start};

#[tokio::test]
async fn every_driver_pauses_accepting_when_out_of_descriptors_and_recovers() -> io::Result<()> {
    for driver in [Driver::Mio, Driver::Tokio, Driver::Smol] {
        let router = start(driver, Config::default())?;
        // Blocking this test's runtime is harmless: the router runs on a
        // thread of its own, and nothing else is scheduled here meanwhile.
        exhaust_descriptors_then_recover(router.addr)?;
        let stats = router.stop().await?;
        assert_eq!(stats.connections_accepted, 2, "{driver:?}");
        // The router decided the pause: it counted the failures it was told of.
        assert!(stats.accept_pauses > 0, "{driver:?}: {stats:?}");
        assert_eq!(stats.accept_errors, stats.accept_pauses, "{driver:?}");
    }
    Ok(())
}
