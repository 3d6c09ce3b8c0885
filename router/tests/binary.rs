//! The built `router` binary, run as an operator would: it announces its
//! address, serves, drains on SIGTERM and exits 0; bad flags exit 2.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::Duration;

use router_client::blocking::Client;

/// Any single step that takes longer than this has failed.
const PATIENCE: Duration = Duration::from_secs(10);

fn router() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_router"));
    command.env("RUST_LOG", "info");
    command
}

/// Runs the binary to completion; it must exit on its own.
fn run_to_exit(args: &[&str]) -> Output {
    router().args(args).output().unwrap()
}

/// Forwards `child`'s stderr, line by line, so a test can wait for a line
/// with a timeout rather than block on a silent process.
fn stderr_lines(child: &mut Child) -> Receiver<String> {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The first line containing `needle`, and every line before it.
fn wait_for_line(lines: &Receiver<String>, needle: &str) -> (String, Vec<String>) {
    let mut before = Vec::new();
    loop {
        match lines.recv_timeout(PATIENCE) {
            Ok(line) if line.contains(needle) => return (line, before),
            Ok(line) => before.push(line),
            Err(_) => panic!("no line with {needle:?}; got {before:#?}"),
        }
    }
}

fn wait_for_exit(mut child: Child) -> ExitStatus {
    let (tx, rx) = mpsc::channel();
    let pid = child.id();
    thread::spawn(move || tx.send(child.wait().unwrap()));
    rx.recv_timeout(PATIENCE)
        .unwrap_or_else(|_| panic!("router (pid {pid}) did not exit"))
}

/// A client of the router at `addr`, every read bounded by [`PATIENCE`].
fn connect(addr: SocketAddr) -> Client {
    client_over(TcpStream::connect(addr).unwrap())
}

/// A client over `stream`, every read bounded by [`PATIENCE`].
fn client_over(stream: TcpStream) -> Client {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    Client::from_stream(stream).unwrap()
}

fn send_sigterm(child: &Child) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: `kill` has no memory-safety preconditions; the PID is our own
    // child's, which has not been waited for, so it is not recycled.
    let result = unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(result, 0, "kill failed");
}

#[test]
fn serves_then_drains_on_sigterm_and_exits_zero() {
    let mut child = router()
        .args(["--listen", "127.0.0.1:0", "--max-connections", "10"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = stderr_lines(&mut child);

    let (start_line, _) = wait_for_line(&lines, "listening on ");
    let addr: SocketAddr = start_line
        .split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address in {start_line:?}"));
    assert!(start_line.contains("driver=\"mio\""), "{start_line}");
    assert!(start_line.contains("max_connections=10"), "{start_line}");

    let mut client = connect(addr);
    client.send(client.id(), b"echo").unwrap();
    assert_eq!(client.recv().unwrap().as_deref(), Some(&b"echo"[..]));

    send_sigterm(&child);
    assert_eq!(
        client.recv().unwrap(),
        None,
        "the drain closes the connection"
    );
    let (stop_line, _) = wait_for_line(&lines, "drained");
    assert!(stop_line.contains("connections_accepted=1"), "{stop_line}");
    assert!(stop_line.contains("frames_routed=1"), "{stop_line}");
    assert!(stop_line.contains("closed=shutdown=1"), "{stop_line}");
    let status = wait_for_exit(child);
    assert_eq!(status.code(), Some(0), "{status}");
}

#[test]
fn invalid_flags_exit_2_with_a_message() {
    for (args, message) in [
        (&["--max-frame-bytes", "huge"][..], "not a size"),
        (&["--write-stall-timeout", "2"], "not a duration"),
        (
            &["--outbound-low-water", "2MiB"],
            "--outbound-low-water (2097152) must not exceed --outbound-high-water",
        ),
        (
            &["--driver", "uring"],
            "invalid value 'uring' for '--driver <DRIVER>'",
        ),
    ] {
        let output = run_to_exit(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[test]
fn a_taken_address_exits_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = run_to_exit(&["--listen", &addr]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
}

#[test]
fn a_taken_metrics_address_exits_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = run_to_exit(&["--listen", "127.0.0.1:0", "--metrics-addr", &addr]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen for metrics scrapes on {addr}")),
        "{stderr}"
    );
}

/// A log line as JSON, failing the test if it is not an object.
fn json_line(line: &str) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str(line) {
        Ok(serde_json::Value::Object(object)) => object,
        _ => panic!("not a JSON object: {line:?}"),
    }
}

/// The body of `GET /metrics` from `addr`.
fn scrape(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    response
}

#[test]
fn serves_metrics_and_logs_json_lines_on_mio() {
    serves_metrics_and_logs_json_lines_with_conn_and_peer("mio");
}

#[test]
fn serves_metrics_and_logs_json_lines_on_tokio() {
    serves_metrics_and_logs_json_lines_with_conn_and_peer("tokio");
}

#[test]
fn serves_metrics_and_logs_json_lines_on_smol() {
    serves_metrics_and_logs_json_lines_with_conn_and_peer("smol");
}

/// The binary with `args`, metrics and JSON logs at `log_level`, once it
/// listens: the child, its stderr lines, its start line, and where it
/// serves clients and metrics.
fn spawn_with_metrics(
    args: &[&str],
    log_level: &str,
) -> (Child, Receiver<String>, String, SocketAddr, SocketAddr) {
    let mut child = router()
        .env("RUST_LOG", log_level)
        .args(args)
        .args(["--listen", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"])
        .args(["--log-format", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = stderr_lines(&mut child);
    let (metrics_line, _) = wait_for_line(&lines, "metrics at http://");
    let metrics_addr = address_in(&metrics_line, "metrics at http://");
    let (start_line, _) = wait_for_line(&lines, "listening on ");
    let addr = address_in(&start_line, "listening on ");
    (child, lines, start_line, addr, metrics_addr)
}

/// The address after `after` in the message of JSON log line `line`.
fn address_in(line: &str, after: &str) -> SocketAddr {
    let message = json_line(line)["message"].as_str().unwrap().to_owned();
    let rest = message.split(after).nth(1).unwrap_or_default();
    let addr = rest.split(['/', ' ']).next().unwrap_or_default();
    addr.parse()
        .unwrap_or_else(|_| panic!("no address in {message:?}"))
}

/// The binary with `driver`, `--metrics-addr` and `--log-format json`: the
/// endpoint counts a connection, and every log line is a JSON object, the
/// connection's carrying its ID and peer address as fields.
fn serves_metrics_and_logs_json_lines_with_conn_and_peer(driver: &str) {
    let (child, lines, start_line, addr, metrics_addr) =
        spawn_with_metrics(&["--driver", driver], "debug");
    let limits = json_line(&start_line)["limits"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(limits.contains("max_connections=100000"), "{start_line}");
    assert!(scrape(metrics_addr).contains("\nrouter_connections_accepted_total 0\n"));

    let stream = TcpStream::connect(addr).unwrap();
    let local_addr = stream.local_addr().unwrap();
    let mut client = client_over(stream);
    let (connected, _) = wait_for_line(&lines, "\"message\":\"connected\"");
    let connected = json_line(&connected);
    assert_eq!(connected["conn"], 0, "{connected:?}");
    assert_eq!(connected["peer"], local_addr.to_string(), "{connected:?}");
    // The loop publishes its counters at the end of every turn, and reads
    // the client's frame in a later turn than the one that accepted it: once
    // the frame is back, the accept has been published.
    client.send(client.id(), b"ping").unwrap();
    assert_eq!(client.recv().unwrap().as_deref(), Some(&b"ping"[..]));
    assert!(scrape(metrics_addr).contains("\nrouter_connections_accepted_total 1\n"));

    send_sigterm(&child);
    let (stop_line, before) = wait_for_line(&lines, "drained; exiting");
    assert_eq!(json_line(&stop_line)["connections_accepted"], 1);
    for line in before {
        json_line(&line);
    }
    let status = wait_for_exit(child);
    assert_eq!(status.code(), Some(0), "{status}");
}

/// With `--shards 2`: the start line says so and gives the layout, clients
/// that connect one after the other go to alternate shards, and the
/// endpoint gives each shard's counters under a `shard` label beside their
/// sum.
#[test]
fn two_shards_log_their_layout_and_label_their_metrics() {
    let (child, lines, start_line, addr, metrics_addr) =
        spawn_with_metrics(&["--shards", "2"], "info");
    let start = json_line(&start_line);
    assert_eq!(start["shards"], 2, "{start_line}");
    assert_eq!(
        start["id_layout"], "shard_bits=1 sequence_bits=31",
        "{start_line}"
    );

    let mut clients: Vec<Client> = (0..2).map(|_| connect(addr)).collect();
    assert_eq!(clients[0].id() >> 31, 0, "the first client is on shard 0");
    assert_eq!(clients[1].id() >> 31, 1, "the second on shard 1");
    // Across shards, and back: once it is back, both shards have published
    // the accept, since each publishes at the end of every turn.
    let (zero, one) = (clients[0].id(), clients[1].id());
    clients[0].send(one, b"ping").unwrap();
    assert_eq!(clients[1].recv().unwrap().as_deref(), Some(&b"ping"[..]));
    clients[1].send(zero, b"pong").unwrap();
    assert_eq!(clients[0].recv().unwrap().as_deref(), Some(&b"pong"[..]));
    let metrics = scrape(metrics_addr);
    for line in [
        "\nrouter_connections_accepted_total 2\n",
        "\nrouter_connections_accepted_total{shard=\"0\"} 1\n",
        "\nrouter_connections_accepted_total{shard=\"1\"} 1\n",
        "\nrouter_peer_frames_forwarded_total{shard=\"0\"} 1\n",
    ] {
        assert!(metrics.contains(line), "no {line:?} in\n{metrics}");
    }
    assert!(
        metrics.contains("\nrouter_shard_wakeups_total{shard=\"1\"} "),
        "{metrics}"
    );

    send_sigterm(&child);
    let (stop_line, _) = wait_for_line(&lines, "drained; exiting");
    assert_eq!(json_line(&stop_line)["connections_accepted"], 2);
    assert_eq!(wait_for_exit(child).code(), Some(0));
}
