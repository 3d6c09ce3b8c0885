//! The router's integration suite: real TCP on `127.0.0.1`, one set of tests,
//! every driver.
//!
//! Each test is written once, as an `async fn(Driver) -> io::Result<()>` in one
//! of the files under `tests/`, and [`driver_tests!`] instantiates it once per
//! driver, as `on_mio::reference_exchange`, `on_tokio::reference_exchange`, … so that
//! `cargo test -p router-tests` runs every test against every driver and a
//! failure names the driver it failed on.
//!
//! The router runs in the test's own process ([`start`]), on a thread of its
//! own, so a test can stop it and read its final [`Stats`](router_core::Stats),
//! and can measure what the router costs the process (memory, file
//! descriptors). The shutdown test runs the real `router` binary instead
//! ([`RouterProcess`]).
//!
//! Every wait is bounded by [`PATIENCE`] ([`within`]): a router that loses a
//! frame fails a test instead of hanging it.
//!
//! # Adding a driver
//!
//! Add it to `router::Driver` and `router::Server` (the binary runs it then
//! too), its constant to [`Driver`], and its lines to [`driver_tests!`].

mod binary;
mod client;
mod descriptors;
mod harness;
mod process;
mod scrape;
mod split_exchange;

pub use binary::RouterProcess;
pub use client::{Client, TlsClient, frame, is_reset};
pub use descriptors::exhaust_descriptors_then_recover;
pub use harness::{Driver, PATIENCE, TestRouter, start, start_observed, start_tls, within};
pub use process::{exclusive, open_fds, raise_fd_limit, resident_bytes};
pub use scrape::{Exposition, scrape};
pub use split_exchange::{SPLIT_FRAMES, blocking_split_exchange, tokio_split_exchange};

/// Instantiates each listed test once per driver, with one shard and with
/// two, in a module named after both: `driver_tests! { reference_exchange }`
/// declares `on_mio::reference_exchange` calling
/// `reference_exchange(Driver::Mio)`, and `on_mio_2_shards::reference_exchange`
/// calling it with `Driver::Mio.sharded(2)`, and so on for each driver.
///
/// Each listed function is an `async fn(Driver) -> std::io::Result<()>` in
/// scope where the macro is invoked.
#[macro_export]
macro_rules! driver_tests {
    ($($test:ident),+ $(,)?) => {
        // `on_`, so that no module shadows a crate of the same name.
        $crate::driver_tests!(@for on_mio, Mio, 1; $($test),+);
        $crate::driver_tests!(@for on_tokio, Tokio, 1; $($test),+);
        $crate::driver_tests!(@for on_smol, Smol, 1; $($test),+);
        $crate::driver_tests!(@for on_mio_2_shards, Mio, 2; $($test),+);
        $crate::driver_tests!(@for on_tokio_2_shards, Tokio, 2; $($test),+);
        $crate::driver_tests!(@for on_smol_2_shards, Smol, 2; $($test),+);
    };
    (@for $module:ident, $driver:ident, $shards:literal; $($test:ident),+) => {
        mod $module {
            $(
                #[tokio::test]
                async fn $test() -> std::io::Result<()> {
                    super::$test($crate::Driver::$driver.sharded($shards)).await
                }
            )+
        }
    };
}
