//! tokio's listener and timer, as the router task uses them.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use driver_async::{Listener, Runtime, Timer};
use tokio::net::TcpListener;
use tokio::time::{self, Sleep};

use crate::socket::TokioSocket;

/// The tokio runtime: its IO and time drivers must be enabled
/// (`enable_all`).
#[derive(Debug)]
pub struct Tokio;

impl Runtime for Tokio {
    type Socket = TokioSocket;
    type Listener = TokioListener;
    type Timer = TokioTimer;

    fn listener(listener: std::net::TcpListener) -> io::Result<TokioListener> {
        TcpListener::from_std(listener).map(TokioListener)
    }

    fn timer() -> TokioTimer {
        TokioTimer {
            sleep: Box::pin(time::sleep_until(time::Instant::now())),
            armed_for: None,
        }
    }
}

/// tokio's listener.
#[derive(Debug)]
pub struct TokioListener(TcpListener);

impl Listener for TokioListener {
    type Socket = TokioSocket;

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(TokioSocket, SocketAddr)>> {
        self.0
            .poll_accept(cx)
            .map_ok(|(stream, peer)| (TokioSocket::new(stream), peer))
    }
}

/// A tokio `Sleep`, re-armed only when the deadline changes.
#[derive(Debug)]
pub struct TokioTimer {
    sleep: Pin<Box<Sleep>>,
    armed_for: Option<Instant>,
}

impl Timer for TokioTimer {
    fn poll_at(&mut self, cx: &mut Context<'_>, at: Instant) -> Poll<()> {
        if self.armed_for != Some(at) {
            self.sleep.as_mut().reset(time::Instant::from_std(at));
            self.armed_for = Some(at);
        }
        self.sleep.as_mut().poll(cx)
    }
}
