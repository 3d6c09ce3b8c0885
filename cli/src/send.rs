//! `router-cli send`: each message, or each line of standard input, as one frame.

use std::io::{self, BufRead};

use router_client::blocking::Client;
use router_client::{Decoder, Error};

use crate::connect::Connection;
use crate::error::CliError;

/// Connects, sends `messages` (or standard input's lines) to `to`, then
/// closes in order: it returns once the router has read every frame.
pub(crate) fn run(connection: &Connection, to: u32, messages: &[String]) -> Result<(), CliError> {
    let addr = connection.addr.as_str();
    let mut client = connection.connect(Decoder::new())?;
    if messages.is_empty() {
        send_lines(&mut client, addr, to, io::stdin().lock())?;
    } else {
        for (index, message) in messages.iter().enumerate() {
            send_one(&mut client, addr, to, message.as_bytes(), || {
                format!("message {}", index + 1)
            })?;
        }
    }
    client
        .close()
        .map_err(|error| CliError::connection(addr, error))
}

/// Sends each line of `input`, without its `\n` or `\r\n`, as one frame.
fn send_lines(
    client: &mut Client,
    addr: &str,
    to: u32,
    mut input: impl BufRead,
) -> Result<(), CliError> {
    let mut line = Vec::new();
    for number in 1.. {
        line.clear();
        let read = input
            .read_until(b'\n', &mut line)
            .map_err(|source| CliError::Terminal {
                what: "cannot read standard input",
                source,
            })?;
        if read == 0 {
            break;
        }
        let payload = strip_line_ending(&line);
        send_one(client, addr, to, payload, || {
            format!("line {number} of standard input (the lines before it were sent)")
        })?;
    }
    Ok(())
}

/// Sends one payload; `what` names it in an error.
fn send_one(
    client: &mut Client,
    addr: &str,
    to: u32,
    payload: &[u8],
    what: impl FnOnce() -> String,
) -> Result<(), CliError> {
    match client.send(to, payload) {
        Ok(()) => Ok(()),
        Err(Error::Payload(source)) => Err(CliError::Payload {
            what: what(),
            source,
        }),
        Err(error) => Err(CliError::connection(addr, error)),
    }
}

fn strip_line_ending(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::strip_line_ending;

    #[test]
    fn line_endings_are_not_part_of_the_payload() {
        assert_eq!(strip_line_ending(b"unix\n"), b"unix");
        assert_eq!(strip_line_ending(b"dos\r\n"), b"dos");
        assert_eq!(strip_line_ending(b"last line"), b"last line");
        assert_eq!(strip_line_ending(b"\n"), b"");
    }
}
