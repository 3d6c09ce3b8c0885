//! Job dispatch over the router: two processes, built on `router-client`.
//!
//! ```sh
//! cargo run --release --bin router &                  # the router, on 127.0.0.1:8080
//! cargo run -p jobs -- worker                         # prints `worker 0`, then serves
//! cargo run -p jobs -- dispatch --worker 0 10 100 1000
//! ```
//!
//! The worker (the tokio client) prints its ID, then answers each job with
//! its result, until it is told to stop. The dispatcher (the blocking client,
//! split in two) sends every job from one thread while it collects the
//! results on another, prints them in the order asked, and tells the worker
//! to stop. A job says where to send its result, since the router tells no
//! one another client's ID: the dispatcher puts its own ID in each job.

mod dispatch;
mod message;
mod worker;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(about = "Job dispatch over the router")]
struct Args {
    /// The router's address.
    #[arg(long, default_value = "127.0.0.1:8080", global = true)]
    addr: String,
    #[command(subcommand)]
    role: Role,
}

#[derive(Debug, Subcommand)]
enum Role {
    /// Print `worker <ID>`, then count the primes below each job's number.
    Worker,
    /// Send each number to the worker as a job and print the results.
    Dispatch {
        /// The worker's ID, as it printed it.
        #[arg(long)]
        worker: u32,
        /// The jobs: count the primes below each.
        #[arg(required = true)]
        numbers: Vec<u32>,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.role {
        Role::Worker => worker::run(&args.addr),
        Role::Dispatch { worker, numbers } => dispatch::run(&args.addr, worker, &numbers),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("jobs: {error}");
            ExitCode::FAILURE
        }
    }
}
