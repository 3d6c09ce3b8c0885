//! `router-cli listen` and `send` against the real `router` binary, on each
//! driver, and their errors and exit codes.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::{Output, Stdio};

use router_tests::{Driver, RouterProcess, driver_tests, within};
use router_tls::test_certs::TestPki;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

driver_tests! {
    send_reaches_listen_as_lines,
}

fn router_cli() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_router-cli"));
    command.kill_on_drop(true);
    command
}

/// Runs `router-cli args…` with `stdin` as its standard input, to its exit.
async fn run(args: &[&str], stdin: &[u8]) -> io::Result<Output> {
    let mut child = router_cli()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut input = child.stdin.take().expect("stdin is piped");
    input.write_all(stdin).await?;
    drop(input);
    within("router-cli to exit", child.wait_with_output()).await?
}

/// The next line `listen` prints.
async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> io::Result<String> {
    within("a line from listen", lines.next_line())
        .await??
        .ok_or_else(|| io::Error::other("listen exited early"))
}

/// Starts `router-cli listen --addr addr` and `args`: the process, its
/// lines after the first, and the ID its first line (`id <decimal>`) gives.
async fn listen(
    addr: &str,
    args: &[&str],
) -> io::Result<(Child, Lines<BufReader<ChildStdout>>, String)> {
    let mut listener = router_cli()
        .args(["listen", "--addr", addr])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(listener.stdout.take().expect("stdout is piped")).lines();
    let first = next_line(&mut lines).await?;
    let id = first
        .strip_prefix("id ")
        .unwrap_or_else(|| panic!("listen's first line is {first:?}"));
    id.parse::<u32>()
        .unwrap_or_else(|_| panic!("not a decimal ID: {first:?}"));
    Ok((listener, lines, id.to_owned()))
}

/// Messages given as arguments and lines of standard input each arrive as
/// one line, escaped where they are not printable; when the router drains,
/// `listen` exits 0.
async fn send_reaches_listen_as_lines(driver: Driver) -> io::Result<()> {
    let router = RouterProcess::spawn(driver, &[]).await?;
    let addr = router.addr.to_string();
    let (listener, mut lines, id) = listen(&addr, &[]).await?;
    let id = id.as_str();

    let sent = run(
        &["send", "--addr", &addr, "--to", id, "hello", "two words"],
        b"",
    )
    .await?;
    assert_eq!(sent.status.code(), Some(0), "{sent:?}");
    let sent = run(
        &["send", "--addr", &addr, "--to", id],
        b"line one\r\nline\ttwo\n\n\x01 \xff back\\slash\nno newline at the end",
    )
    .await?;
    assert_eq!(sent.status.code(), Some(0), "{sent:?}");

    for expected in [
        "hello",
        "two words",
        "line one",
        "line\\ttwo",
        "",
        "\\u{1} \\xff back\\\\slash",
        "no newline at the end",
    ] {
        assert_eq!(next_line(&mut lines).await?, expected);
    }

    drain_with_listener(router, listener).await
}

#[tokio::test]
async fn a_bad_id_exits_2_and_says_why() -> io::Result<()> {
    for bad in ["abc", "1.5", "4294967296"] {
        let output = run(&["send", "--to", bad, "hi"], b"").await?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("not a client ID"), "{bad}: {stderr}");
    }
    Ok(())
}

#[tokio::test]
async fn a_refused_connection_exits_1_and_says_why() -> io::Result<()> {
    // A port that was free a moment ago: nothing listens there.
    let free = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?.local_addr()?;
    let addr = free.to_string();
    for args in [
        &["listen", "--addr", &addr][..],
        &["send", "--addr", &addr, "--to", "0", "hi"],
    ] {
        let output = run(args, b"").await?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("cannot connect to {addr}")),
            "{args:?}: {stderr}"
        );
    }
    Ok(())
}

/// A line holding `0x00` is refused with exit code 3 and a message naming
/// it; the lines before it were sent.
#[tokio::test]
async fn a_payload_with_a_zero_byte_exits_3_and_names_it() -> io::Result<()> {
    let router = RouterProcess::spawn(Driver::Mio, &[]).await?;
    let addr = router.addr.to_string();
    let (_listener, mut lines, id) = listen(&addr, &[]).await?;
    let id = id.as_str();

    let output = run(
        &["send", "--addr", &addr, "--to", id],
        b"fine\nnot\0fine\nnever sent\n",
    )
    .await?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("line 2 of standard input"), "{stderr}");
    assert!(stderr.contains("0x00"), "{stderr}");
    assert_eq!(next_line(&mut lines).await?, "fine");

    router.terminate()?;
    // Nothing after the refused line reached the listener.
    assert_eq!(
        within("listen's end", lines.next_line()).await??,
        None,
        "a line after the refused one was delivered"
    );
    router.expect_clean_exit().await
}

/// Over mutual TLS: `listen` and `send` with the CA, the server name and a
/// client certificate exchange as over TCP. A handshake that fails (no
/// client certificate; another CA; the default server name, the host of
/// --addr, which the certificate is not for) exits 4 and says why, and
/// TLS files that cannot be read exit 2.
#[tokio::test]
async fn send_reaches_listen_over_tls_and_a_failed_handshake_exits_4() -> io::Result<()> {
    let pki = TestPki::new();
    let path = |name| pki.path(name).display().to_string();
    let client = pki.issue("router-cli");
    std::fs::write(pki.path("client.pem"), &client.cert_pem)?;
    std::fs::write(pki.path("client.key"), &client.key_pem)?;
    let (cert, key, ca) = (path("server.pem"), path("server.key"), path("ca.pem"));
    let (client_cert, client_key) = (path("client.pem"), path("client.key"));
    let router = RouterProcess::spawn(
        Driver::Mio,
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls-client-ca",
            &ca,
        ],
    )
    .await?;
    let addr = router.addr.to_string();
    let tls = [
        "--tls-ca",
        &ca,
        "--tls-server-name",
        "localhost",
        "--tls-cert",
        &client_cert,
        "--tls-key",
        &client_key,
    ];
    let (listener, mut lines, id) = listen(&addr, &tls).await?;
    let send = |extra: &[&str]| {
        let mut args = vec!["send", "--addr", &addr, "--to", &id];
        args.extend_from_slice(extra);
        args.push("over TLS");
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };

    let sent = run_owned(&send(&tls)).await?;
    assert_eq!(sent.status.code(), Some(0), "{sent:?}");
    assert_eq!(next_line(&mut lines).await?, "over TLS");

    let other_ca = TestPki::new();
    let other_ca_file = other_ca.path("ca.pem").display().to_string();
    for (args, reason) in [
        (&tls[..4], "CertificateRequired"),
        (
            &["--tls-ca", &other_ca_file, "--tls-server-name", "localhost"][..],
            "invalid peer certificate",
        ),
        (
            &[
                "--tls-ca",
                &ca,
                "--tls-cert",
                &client_cert,
                "--tls-key",
                &client_key,
            ][..],
            "not valid for name",
        ),
    ] {
        let output = run_owned(&send(args)).await?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(4), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("TLS handshake with {addr} failed")),
            "{stderr}"
        );
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
    }
    let missing = path("missing.pem");
    let output = run_owned(&send(&["--tls-ca", &missing])).await?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&missing), "{stderr}");

    drain_with_listener(router, listener).await
}

/// [`run`] with owned arguments and no standard input.
async fn run_owned(args: &[String]) -> io::Result<Output> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&args, b"").await
}

/// Stops `router` (SIGTERM): `listener` exits 0 once it drains, and so does
/// the router.
async fn drain_with_listener(router: RouterProcess, mut listener: Child) -> io::Result<()> {
    router.terminate()?;
    let status = within("listen to exit", listener.wait()).await??;
    assert_eq!(
        status.code(),
        Some(0),
        "listen exits 0 when the router drains"
    );
    router.expect_clean_exit().await
}
