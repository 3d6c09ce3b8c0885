//! The dispatcher: the blocking client, split so that jobs go out from one
//! thread while results come in on another.

use std::collections::BTreeMap;
use std::thread;

use router_client::Error;
use router_client::blocking::Client;

use crate::message::{Reply, Request};

/// Sends one job per number to `worker`, prints `primes below N: COUNT` for
/// each in the order given, then tells the worker to stop.
pub(crate) fn run(addr: &str, worker: u32, numbers: &[u32]) -> Result<(), Error> {
    let client = Client::connect(addr)?;
    let me = client.id();
    let (mut sender, mut receiver) = client.split();
    let jobs = numbers.to_vec();
    let sending = thread::spawn(move || -> Result<_, Error> {
        for below in jobs {
            let job = Request::Job {
                reply_to: me,
                below,
            };
            sender.send(worker, job.encode().as_bytes())?;
        }
        Ok(sender)
    });

    let mut results = BTreeMap::new();
    for answered in 0..numbers.len() {
        let Some(payload) = receiver.recv()? else {
            let missing = numbers.len() - answered;
            let message =
                format!("the router closed the connection with {missing} results missing");
            return Err(Error::Io(std::io::Error::other(message)));
        };
        match Reply::decode(&payload) {
            Some(reply) => {
                results.insert(reply.below, reply.primes);
            }
            None => {
                let message = format!("not a result: {:?}", payload.escape_ascii().to_string());
                return Err(Error::Io(std::io::Error::other(message)));
            }
        }
    }
    let mut sender = sending.join().expect("the sending thread panicked")?;
    for below in numbers {
        println!("primes below {below}: {}", results[below]);
    }
    sender.send(worker, Request::Stop.encode().as_bytes())?;
    sender.close()
}
