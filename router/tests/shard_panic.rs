//! A shard that panics stops the whole router, with an error naming it,
//! rather than leave the other shards serving as half a router.

use std::io::Read;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use router::{Driver, ShardedServer};
use router_core::Config;

#[test]
fn a_panicking_shard_stops_every_shard_and_is_named() {
    for driver in Driver::ALL {
        let listener = router::listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let panicked = AtomicBool::new(false);
        // The stats observer runs on each shard's thread: the first shard
        // to see a connection panics there, once.
        let server = ShardedServer::new(driver, listener, &Config::default(), 2)
            .unwrap()
            .with_stats_observer(move |stats| {
                if stats.connections_accepted > 0 && !panicked.swap(true, Ordering::SeqCst) {
                    panic!("injected by the test");
                }
            });
        let addr = server.local_addr().unwrap();
        let running = thread::spawn(move || server.run());

        let mut client = TcpStream::connect(addr).unwrap();
        let mut id = [0; 4];
        client.read_exact(&mut id).unwrap();
        // No shutdown is asked for: the panic alone must end the run.
        let error = running.join().expect("the panic is caught").unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("shard 0 panicked: injected by the test"),
            "{driver:?}: {message}"
        );
    }
}
