//! The loop, out of file descriptors: see
//! [`router_tests::exhaust_descriptors_then_recover`], which runs the same
//! scenario against every driver of the suite. The loop must sleep out the
//! pause the router decides rather than spin or give up.
//!
//! The descriptor limit is per process, so this test has its own binary, and
//! holds the only test in it.
#![cfg(target_os = "linux")]

use std::net::{SocketAddr, TcpListener};
use std::thread;

use router_core::{Config, Router};
use router_tests::exhaust_descriptors_then_recover;
use std_loop::Server;

#[test]
fn accept_pauses_when_out_of_descriptors_and_recovers() {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let server = Server::new(listener, Router::new(Config::default()).unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let shutdown = server.shutdown_handle();
    let loop_thread = thread::spawn(move || server.run());

    exhaust_descriptors_then_recover(addr).unwrap();

    shutdown.shutdown();
    let stats = loop_thread.join().unwrap().unwrap();
    assert_eq!(stats.connections_accepted, 2);
    // The router decided the pause: it counted the failures it was told of.
    assert!(stats.accept_pauses > 0, "{stats:?}");
    assert_eq!(stats.accept_errors, stats.accept_pauses);
}
