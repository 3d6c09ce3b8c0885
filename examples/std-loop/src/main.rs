//! Runs the `poll(2)` example loop on an address: `cargo run -p std-loop --
//! 127.0.0.1:8080`. It serves until the process is interrupted; the
//! library's `ShutdownHandle` is how an embedding application would stop it.

use std::io;
use std::net::{SocketAddr, TcpListener};

use router_core::{Config, Router};
use std_loop::Server;

fn main() -> io::Result<()> {
    let addr: SocketAddr = match std::env::args().nth(1) {
        Some(arg) => arg
            .parse()
            .map_err(|bad| io::Error::new(io::ErrorKind::InvalidInput, bad))?,
        None => SocketAddr::from(([127, 0, 0, 1], 8080)),
    };
    let router = Router::new(Config::default())
        .map_err(|invalid| io::Error::new(io::ErrorKind::InvalidInput, invalid))?;
    let server = Server::new(TcpListener::bind(addr)?, router)?;
    eprintln!("listening on {}", server.local_addr()?);
    server.run().map(drop)
}
