//! `router-cli`: talk to a router from a shell.
//!
//! - `router-cli listen [--addr A]` prints `id <decimal>`, then each payload
//!   delivered to it on its own line (control characters, backslashes and
//!   bytes that are not UTF-8 escaped), until the router closes the connection.
//! - `router-cli send [--addr A] --to ID [MESSAGE...]` sends each MESSAGE, or
//!   each line of standard input when none is given, as one frame, and exits 0
//!   once the router has read them all.
//!
//!
//! Both speak TLS with `--tls-ca FILE` (the CA that issued the router's
//! certificate), checked against `--tls-server-name` (by default the host of
//! `--addr`), and present `--tls-cert FILE --tls-key FILE` to a router that
//! asks for a client certificate.
//!
//! Exit codes: 0 done; 1 the connection failed (refused, reset, closed before
//! an ID); 2 bad arguments (an ID that is not a `u32`, TLS files that cannot
//! be read); 3 a payload containing `0x00`, which the protocol cannot carry
//! (what came before it was sent); 4 the TLS handshake failed.

mod connect;
mod error;
mod escape;
mod listen;
mod send;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::connect::Connection;

/// A command-line client for the router.
#[derive(Debug, Parser)]
#[command(
    version,
    about,
    after_help = "TLS: --tls-ca FILE trusts the CA that issued the router's certificate, \
                  checked for --tls-server-name (default: the host of --addr); \
                  --tls-cert FILE --tls-key FILE answer a router that asks for a client certificate.\n\
                  Exit codes: 0 done; 1 the connection failed; 2 bad arguments (or unusable TLS files); \
                  3 a payload containing 0x00 (what came before it was sent); 4 the TLS handshake failed."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print this connection's ID, then every payload delivered to it, one per line.
    Listen {
        #[command(flatten)]
        connection: Connection,
        /// The longest payload to accept: the router's --max-frame-bytes.
        #[arg(long, value_name = "BYTES", default_value_t = router_client::DEFAULT_MAX_PAYLOAD)]
        max_payload_bytes: usize,
    },
    /// Send each MESSAGE (or each line of standard input) to client ID.
    Send {
        #[command(flatten)]
        connection: Connection,
        /// The destination's client ID, in decimal (`listen` prints it).
        #[arg(long, value_name = "ID", value_parser = parse_id)]
        to: u32,
        /// The payloads, one frame each; without any, each line of standard
        /// input (its line ending removed) is one frame.
        #[arg(value_name = "MESSAGE")]
        messages: Vec<String>,
    },
}

/// A client ID: a decimal `u32`, with a message that says so.
fn parse_id(text: &str) -> Result<u32, String> {
    text.parse().map_err(|_| {
        format!(
            "not a client ID: expected a decimal number from 0 to {}",
            u32::MAX
        )
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Listen {
            connection,
            max_payload_bytes,
        } => listen::run(&connection, max_payload_bytes),
        Command::Send {
            connection,
            to,
            messages,
        } => send::run(&connection, to, &messages),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("router-cli: {error}");
            error.exit_code()
        }
    }
}
