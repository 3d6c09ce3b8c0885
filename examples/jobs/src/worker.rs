//! The worker: the tokio client, answering one job at a time.

use std::io::Write;

use router_client::Error;
use router_client::tokio::Client;

use crate::message::{Reply, Request};

/// Prints `worker <ID>`, then answers jobs until a `stop`.
pub(crate) fn run(addr: &str) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(serve(addr))
}

async fn serve(addr: &str) -> Result<(), Error> {
    let mut client = Client::connect(addr).await?;
    // Whoever started the worker reads its ID here, to pass to dispatchers.
    println!("worker {}", client.id());
    std::io::stdout().flush()?;
    while let Some(payload) = client.recv().await? {
        match Request::decode(&payload) {
            Some(Request::Job { reply_to, below }) => {
                let reply = Reply {
                    below,
                    primes: primes_below(below),
                };
                client.send(reply_to, reply.encode().as_bytes()).await?;
            }
            Some(Request::Stop) => break,
            None => eprintln!("jobs: ignoring {:?}", payload.escape_ascii().to_string()),
        }
    }
    client.close().await
}

/// How many primes are smaller than `n` (a sieve).
fn primes_below(n: u32) -> u32 {
    let n = n as usize;
    let mut composite = vec![false; n];
    let mut count = 0;
    for i in 2..n {
        if !composite[i] {
            count += 1;
            for multiple in (i * i..n).step_by(i) {
                composite[multiple] = true;
            }
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::primes_below;

    #[test]
    fn counts_primes() {
        assert_eq!(primes_below(0), 0);
        assert_eq!(primes_below(3), 1);
        assert_eq!(primes_below(10), 4);
        assert_eq!(primes_below(100), 25);
        assert_eq!(primes_below(1000), 168);
    }
}
