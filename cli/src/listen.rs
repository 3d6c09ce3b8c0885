//! `router-cli listen`: print the ID, then every payload, one per line.

use std::io::{self, Write};

use router_client::Decoder;

use crate::connect::Connection;
use crate::error::CliError;
use crate::escape::escape;

/// Connects and prints until the router closes the connection, or until
/// standard output is closed (`| head`), which ends it quietly.
pub(crate) fn run(connection: &Connection, max_payload: usize) -> Result<(), CliError> {
    let addr = connection.addr.as_str();
    let mut client = connection.connect(Decoder::new().with_max_payload(max_payload))?;
    let mut out = io::stdout().lock();
    if !print_line(&mut out, &format!("id {}", client.id()))? {
        return Ok(());
    }
    loop {
        match client.recv() {
            Ok(Some(payload)) => {
                if !print_line(&mut out, &escape(&payload))? {
                    return Ok(());
                }
            }
            Ok(None) => return Ok(()),
            Err(error) => return Err(CliError::connection(addr, error)),
        }
    }
}

/// Prints `line` and flushes it at once (a listener is watched live, or read
/// line by line by another program); `false` once standard output is closed.
fn print_line(out: &mut impl Write, line: &str) -> Result<bool, CliError> {
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(source) => Err(CliError::Terminal {
            what: "cannot write to standard output",
            source,
        }),
    }
}
