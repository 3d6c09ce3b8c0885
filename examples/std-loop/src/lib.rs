//! router-core in a loop that is no runtime's: `std::net` sockets in
//! non-blocking mode and `poll(2)`, nothing else.
//!
//! The core needs no executor, no reactor, no timer wheel and no thread: time
//! is an argument, IO is the caller's. So it can live inside any event loop
//! an application already has (a C library's, a game's, an embedded
//! system's). This crate shows the whole of such an embedding in one file,
//! in the shape of the mio, tokio and smol drivers but with none of their
//! machinery. Every turn:
//!
//! 1. Build the `poll(2)` set from the router's own answers: `POLLIN` for the
//!    listener while the router [`wants_accept`](Router::wants_accept) and
//!    for a connection it [`wants_read`](Router::wants_read), `POLLOUT` for
//!    one whose last write would have blocked, and a timeout from
//!    [`poll_timeout`](Router::poll_timeout).
//! 2. Sleep in `poll(2)` until one of them is ready or the deadline comes.
//! 3. Feed the router what happened (`handle_*`), then let it do what it
//!    wants through the loop's sockets: one [`drive`](Router::drive) per
//!    turn, which writes, closes and tells the loop to close its listener
//!    through the sockets' [`Io`] implementation.
//!
//! `poll(2)` is level-triggered, which keeps the loop short: a connection
//! paused behind a full destination is simply left out of the set, and once
//! resumed it is back in it and reported at once if bytes are waiting, so
//! [`Io::resume_reading`] needs no handling
//! at all. Reading once
//! per turn per ready connection makes the turns fair. The price is that
//! each turn walks every connection to build the set: fine for the hundreds
//! of connections this kind of loop is used for, not for 10 000, where the
//! readiness-based drivers are the tool.
//!
//! ```
//! use std::net::{SocketAddr, TcpStream};
//! use std::io::Read;
//! use std::thread;
//!
//! use router_core::{Config, Router};
//! use std_loop::Server;
//!
//! let listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
//! let router = Router::new(Config::default()).expect("a valid config");
//! let server = Server::new(listener, router)?;
//! let addr = server.local_addr()?;
//! let shutdown = server.shutdown_handle();
//! let running = thread::spawn(move || server.run());
//!
//! let mut client = TcpStream::connect(addr)?;
//! let mut id = [0; 4];
//! client.read_exact(&mut id)?;
//!
//! shutdown.shutdown();
//! let stats = running.join().expect("the loop did not panic")?;
//! assert_eq!(stats.connections_accepted, 1);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::HashMap;
use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use router_core::{ConnHandle, Io, Router, Stats};

/// Bytes read at once, into one buffer for the whole loop.
const SCRATCH_BYTES: usize = 64 * 1024;

/// Connections accepted per turn, so that a burst of them cannot hold up
/// the clients already connected.
const ACCEPTS_PER_TURN: usize = 64;

/// A router serving one listening socket from a `poll(2)` loop on the thread
/// that calls [`run`](Self::run).
#[derive(Debug)]
pub struct Server {
    router: Router,
    sockets: Sockets,
    /// Read end of a socket pair the [`ShutdownHandle`] writes to: the
    /// classic self-pipe that wakes `poll(2)` from another thread.
    shutdown_signal: UnixStream,
    shutdown_trigger: Arc<UnixStream>,
    scratch: Box<[u8]>,
}

/// What the router writes to and closes: the listener and every connection.
#[derive(Debug)]
struct Sockets {
    /// `None` once the router said to stop listening.
    listener: Option<TcpListener>,
    connections: HashMap<ConnHandle, Socket>,
}

#[derive(Debug)]
struct Socket {
    stream: TcpStream,
    /// The last write returned `WouldBlock`: poll for `POLLOUT`.
    write_blocked: bool,
}

/// Starts a [`Server`]'s graceful shutdown from any thread.
#[derive(Debug, Clone)]
pub struct ShutdownHandle(Arc<UnixStream>);

impl ShutdownHandle {
    /// Asks the loop to drain and return. Calling it again does nothing more.
    pub fn shutdown(&self) {
        // One byte wakes the loop; if the pipe is full, it is woken already.
        let _ = (&*self.0).write(&[1]);
    }
}

/// What a `poll(2)` entry stands for.
#[derive(Debug, Clone, Copy)]
enum Source {
    Shutdown,
    Listener,
    Conn(ConnHandle),
}

impl Server {
    /// A server for `router` on a bound `listener` (set non-blocking here).
    pub fn new(listener: TcpListener, router: Router) -> io::Result<Server> {
        listener.set_nonblocking(true)?;
        let (shutdown_signal, shutdown_trigger) = UnixStream::pair()?;
        shutdown_signal.set_nonblocking(true)?;
        shutdown_trigger.set_nonblocking(true)?;
        Ok(Server {
            router,
            sockets: Sockets {
                listener: Some(listener),
                connections: HashMap::new(),
            },
            shutdown_signal,
            shutdown_trigger: Arc::new(shutdown_trigger),
            scratch: vec![0; SCRATCH_BYTES].into_boxed_slice(),
        })
    }

    /// The address it listens on (useful after binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.sockets.listener {
            Some(listener) => listener.local_addr(),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// A handle that starts the drain from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(Arc::clone(&self.shutdown_trigger))
    }

    /// Serves until a [`ShutdownHandle`] asks it to stop and the drain is
    /// done; returns the router's final counters. Fails only if `poll(2)`
    /// fails: a failed `accept` goes to the router, which skips it or pauses
    /// accepting for a moment (out of file descriptors).
    pub fn run(mut self) -> io::Result<Stats> {
        let mut ready = Vec::new();
        while !self.router.is_drained() {
            self.wait(&mut ready)?;
            let now = Instant::now();
            for (source, events) in ready.drain(..) {
                match source {
                    Source::Shutdown => self.begin_shutdown(now),
                    Source::Listener => self.accept(now),
                    Source::Conn(conn) => self.service(conn, events, now),
                }
            }
            // `drive` compares the clock itself: `poll(2)` may return early
            // (a signal, the timeout rounding) or late.
            self.router.drive(now, &mut self.sockets);
        }
        Ok(self.router.stats().clone())
    }

    /// Sleeps in `poll(2)` until a source is ready or the router's deadline
    /// comes, and lists the ready sources in `ready`.
    fn wait(&self, ready: &mut Vec<(Source, PollFlags)>) -> io::Result<()> {
        let mut sources = vec![Source::Shutdown];
        let mut fds = vec![PollFd::new(self.shutdown_signal.as_fd(), PollFlags::POLLIN)];
        // Left out while accepting is paused: still readable, it would wake
        // the loop at once. The pause's end is in `poll_timeout`.
        if let Some(listener) = &self.sockets.listener {
            if self.router.wants_accept() {
                sources.push(Source::Listener);
                fds.push(PollFd::new(listener.as_fd(), PollFlags::POLLIN));
            }
        }
        for (&conn, socket) in &self.sockets.connections {
            let mut interest = PollFlags::empty();
            if self.router.wants_read(conn) {
                interest |= PollFlags::POLLIN;
            }
            if socket.write_blocked {
                interest |= PollFlags::POLLOUT;
            }
            // Left out entirely, a paused connection cannot wake the loop,
            // not even with the POLLHUP that poll(2) reports unasked.
            if !interest.is_empty() {
                sources.push(Source::Conn(conn));
                fds.push(PollFd::new(socket.stream.as_fd(), interest));
            }
        }
        let timeout = match self.router.poll_timeout() {
            // Rounded up to whole milliseconds, so as not to wake just before.
            Some(at) => {
                let nanos = at.saturating_duration_since(Instant::now()).as_nanos();
                PollTimeout::try_from(nanos.div_ceil(1_000_000)).unwrap_or(PollTimeout::MAX)
            }
            None => PollTimeout::NONE,
        };
        match poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(errno) => return Err(errno.into()),
        }
        let fired = fds
            .iter()
            .map(|fd| fd.revents().unwrap_or(PollFlags::empty()));
        ready.extend(
            sources
                .into_iter()
                .zip(fired)
                .filter(|(_, events)| !events.is_empty()),
        );
        Ok(())
    }

    fn begin_shutdown(&mut self, now: Instant) {
        // Empty the pipe so that it does not wake every turn of the drain.
        while matches!(self.shutdown_signal.read(&mut self.scratch), Ok(n) if n > 0) {}
        self.router.shutdown(now);
    }

    fn accept(&mut self, now: Instant) {
        for _ in 0..ACCEPTS_PER_TURN {
            let Some(listener) = &self.sockets.listener else {
                return;
            };
            let stream = match listener.accept() {
                Ok((stream, _peer)) => stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // Skipped if a client gave up; accepting pauses if the
                // listener failed (out of file descriptors).
                Err(e) => {
                    self.router.handle_accept_error(&e, now);
                    if self.router.wants_accept() {
                        continue;
                    }
                    return;
                }
            };
            // A stream that fails here is dropped before the router hears of it.
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            // Frames go out as soon as they are routed; Nagle would hold
            // small ones for the peer's delayed ACK. Only latency needs it.
            let _ = stream.set_nodelay(true);
            // Refused (limit, shutdown): dropping the stream closes it unwritten.
            let Ok(conn) = self.router.handle_accept(now) else {
                continue;
            };
            let socket = Socket {
                stream,
                write_blocked: false,
            };
            self.sockets.connections.insert(conn, socket);
        }
    }

    /// Acts on what `poll(2)` reported for `conn`: writability, then one read.
    fn service(&mut self, conn: ConnHandle, events: PollFlags, now: Instant) {
        let Some(socket) = self.sockets.connections.get_mut(&conn) else {
            return; // Closed earlier in this turn.
        };
        let failed = PollFlags::POLLERR | PollFlags::POLLHUP;
        if socket.write_blocked && events.intersects(PollFlags::POLLOUT | failed) {
            // An error shows in the next write.
            socket.write_blocked = false;
            self.router.handle_writable(conn);
        }
        if !events.intersects(PollFlags::POLLIN | failed) || !self.router.wants_read(conn) {
            return;
        }
        let Some(socket) = self.sockets.connections.get(&conn) else {
            return;
        };
        match (&socket.stream).read(&mut self.scratch) {
            Ok(0) => self.router.handle_eof(conn, now),
            Ok(n) => self.router.handle_input(conn, &self.scratch[..n], now),
            // Level-triggered: whatever is left is reported again next turn.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => self.router.handle_reset(conn, now),
        }
    }
}

impl Io for Sockets {
    fn write(&mut self, conn: ConnHandle, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        let socket = self
            .connections
            .get_mut(&conn)
            .ok_or(io::ErrorKind::NotConnected)?;
        let result = (&socket.stream).write_vectored(slices);
        if result
            .as_ref()
            .is_err_and(|e| e.kind() == io::ErrorKind::WouldBlock)
        {
            // The next poll set asks for POLLOUT.
            socket.write_blocked = true;
        }
        result
    }

    fn close(&mut self, conn: ConnHandle) {
        self.connections.remove(&conn);
    }

    // Level-triggered: the next poll set follows `wants_read`.
    fn resume_reading(&mut self, _conn: ConnHandle) {}

    fn stop_listening(&mut self) {
        self.listener = None;
    }
}
