//! `nats-server` processes this test started, on free loopback ports.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// One `nats-server`, which can be stopped and started again on its port.
pub struct NatsServer {
    pub port: u16,
    args: Vec<String>,
    child: Option<Child>,
    _config: Option<tempfile_path::TempConfig>,
}

mod tempfile_path {
    use std::path::PathBuf;

    /// A config file removed when dropped.
    pub struct TempConfig(pub PathBuf);

    impl Drop for TempConfig {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

impl NatsServer {
    /// A lone server.
    pub fn start() -> NatsServer {
        Self::start_with(&[], None)
    }

    /// A lone server whose `max_payload` is `bytes`.
    pub fn with_max_payload(bytes: usize) -> NatsServer {
        Self::start_with(&[], Some(format!("max_payload: {bytes}\n")))
    }

    fn start_with(extra: &[String], config: Option<String>) -> NatsServer {
        let port = free_port();
        let mut args: Vec<String> = ["-a", "127.0.0.1", "-p"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.push(port.to_string());
        args.extend_from_slice(extra);
        let config = config.map(|text| {
            let path = std::env::temp_dir().join(format!(
                "router-cluster-nats-{}-{port}.conf",
                std::process::id()
            ));
            std::fs::write(&path, text).expect("write the NATS config");
            args.push("-c".into());
            args.push(path.display().to_string());
            tempfile_path::TempConfig(path)
        });
        let mut server = NatsServer {
            port,
            args,
            child: None,
            _config: config,
        };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The server's resident memory, from `/proc`: what a flood held up in
    /// NATS would grow.
    pub fn resident_bytes(&self) -> u64 {
        let child = self.child.as_ref().expect("running");
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
            .expect("the server's /proc status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc status");
        kib * 1024
    }

    /// Kills the server (SIGKILL: no goodbye to its clients).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it (again) on its port, and waits until it listens.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new(nats_server())
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server runs (.ci/run installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server never listened");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn nats_server() -> PathBuf {
    ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
        .unwrap_or_else(|| "nats-server".into())
}

/// `count` servers joined by routes on loopback.
pub fn nats_cluster(count: usize) -> Vec<NatsServer> {
    let route_ports: Vec<u16> = (0..count).map(|_| free_port()).collect();
    let routes = route_ports
        .iter()
        .map(|port| format!("nats://127.0.0.1:{port}"))
        .collect::<Vec<_>>()
        .join(",");
    route_ports
        .iter()
        .map(|port| {
            NatsServer::start_with(
                &[
                    "--cluster_name".into(),
                    "router-test".into(),
                    "--cluster".into(),
                    format!("nats://127.0.0.1:{port}"),
                    "--routes".into(),
                    routes.clone(),
                ],
                None,
            )
        })
        .collect()
}
