//! async-io's listener and timer, as the router task uses them.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use async_io::{Async, Timer as AsyncIoTimer};
use driver_async::{Listener, Runtime, Timer};

use crate::acceptor::Acceptor;
use crate::socket::SmolSocket;

/// smol's reactor, async-io: any executor that drives it (`smol::block_on`,
/// `smol::spawn`, `async_io::block_on`).
#[derive(Debug)]
pub struct Smol;

impl Runtime for Smol {
    type Socket = SmolSocket;
    type Listener = Acceptor;
    type Timer = SmolTimer;

    fn listener(listener: TcpListener) -> io::Result<Acceptor> {
        Async::new(listener).map(Acceptor::new)
    }

    fn timer() -> SmolTimer {
        SmolTimer {
            timer: AsyncIoTimer::never(),
            armed_for: None,
        }
    }
}

impl Listener for Acceptor {
    type Socket = SmolSocket;

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(SmolSocket, SocketAddr)>> {
        Acceptor::poll_accept(self, cx)
    }
}

/// An async-io `Timer`, re-armed only when the deadline changes.
#[derive(Debug)]
pub struct SmolTimer {
    timer: AsyncIoTimer,
    armed_for: Option<Instant>,
}

impl Timer for SmolTimer {
    fn poll_at(&mut self, cx: &mut Context<'_>, at: Instant) -> Poll<()> {
        if self.armed_for != Some(at) {
            self.timer.set_at(at);
            self.armed_for = Some(at);
        }
        Pin::new(&mut self.timer).poll(cx).map(|_| ())
    }
}
