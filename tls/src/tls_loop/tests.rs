//! The loop against a real rustls client, over in-memory sockets that say
//! `WouldBlock`, `Interrupted` or EOF when a test tells them to, with a real
//! router and time as an argument.

use std::cell::{Cell, RefCell};
use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use router_core::{CloseCause, Config, Router};
use rustls::ClientConnection;

use crate::test_certs::TestPki;
use crate::{Admitted, HandshakeFailure, PendingId, Tls, TlsCounters, TlsLimits, TlsLoop};

/// Both directions of one connection, and what became of its socket.
#[derive(Debug)]
struct Wire {
    to_server: Vec<u8>,
    to_client: Vec<u8>,
    /// The client closed: a read past `to_server` returns 0.
    eof: bool,
    /// The next read fails with this, once.
    read_error: Option<ErrorKind>,
    /// Bytes the socket takes before it says `WouldBlock`.
    room: usize,
    dropped: bool,
}

/// The server's end of a [`Wire`], as a driver would hand it to the loop.
#[derive(Debug)]
struct Socket(Rc<RefCell<Wire>>);

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut wire = self.0.borrow_mut();
        if let Some(kind) = wire.read_error.take() {
            return Err(kind.into());
        }
        if wire.to_server.is_empty() {
            return if wire.eof {
                Ok(0)
            } else {
                Err(ErrorKind::WouldBlock.into())
            };
        }
        let n = buf.len().min(wire.to_server.len());
        buf[..n].copy_from_slice(&wire.to_server[..n]);
        wire.to_server.drain(..n);
        Ok(n)
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut wire = self.0.borrow_mut();
        let n = buf.len().min(wire.room);
        if n == 0 {
            return Err(ErrorKind::WouldBlock.into());
        }
        wire.room -= n;
        wire.to_client.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.0.borrow_mut().dropped = true;
    }
}

/// A rustls client on one end of a wire.
struct Client {
    tls: ClientConnection,
    wire: Rc<RefCell<Wire>>,
}

impl Client {
    fn new(pki: &TestPki) -> Client {
        let tls = ClientConnection::new(pki.client_config(None), TestPki::server_name())
            .expect("a client");
        let wire = Wire {
            to_server: Vec::new(),
            to_client: Vec::new(),
            eof: false,
            read_error: None,
            room: usize::MAX,
            dropped: false,
        };
        Client {
            tls,
            wire: Rc::new(RefCell::new(wire)),
        }
    }

    fn socket(&self) -> Socket {
        Socket(Rc::clone(&self.wire))
    }

    /// Puts what the client has to send on the wire.
    fn send(&mut self) {
        let mut wire = self.wire.borrow_mut();
        while self.tls.wants_write() {
            self.tls.write_tls(&mut wire.to_server).unwrap();
        }
    }

    /// Takes in what the server sent; returns the plaintext.
    fn receive(&mut self) -> Vec<u8> {
        let ciphertext = std::mem::take(&mut self.wire.borrow_mut().to_client);
        let mut ciphertext = &ciphertext[..];
        let mut got = Vec::new();
        while !ciphertext.is_empty() {
            self.tls.read_tls(&mut ciphertext).unwrap();
            self.tls.process_new_packets().unwrap();
            let mut chunk = [0; 4096];
            while let Ok(n @ 1..) = self.tls.reader().read(&mut chunk) {
                got.extend_from_slice(&chunk[..n]);
            }
        }
        got
    }

    fn dropped(&self) -> bool {
        self.wire.borrow().dropped
    }
}

struct Setup {
    tls: TlsLoop<Socket>,
    counters: Arc<TlsCounters>,
    router: Router,
    pki: TestPki,
    now: Instant,
}

const PEER: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    40000,
));

/// A frame to client 99, none there: the router counts it received.
const FRAME: &[u8] = b"\0\0\0\x63hi\0";

impl Setup {
    fn new(router: Config) -> Setup {
        let pki = TestPki::new();
        let counters = Arc::new(TlsCounters::default());
        let tls = Tls::new(
            pki.server_config(false, TlsLimits::default()),
            Arc::clone(&counters),
        );
        Setup {
            tls: TlsLoop::new(tls),
            counters,
            router: Router::new(router).expect("a valid config"),
            pki,
            now: Instant::now(),
        }
    }

    /// Accepts `client`'s socket, as a driver that registers it does.
    fn accept(&mut self, client: &Client) -> PendingId {
        let id = Cell::new(None);
        let socket = client.socket();
        self.tls.accept(PEER, self.now, |given| {
            id.set(Some(given));
            Ok(socket)
        });
        id.get().expect("held")
    }

    fn serve(&mut self, id: PendingId) -> Option<Admitted<Socket>> {
        self.tls.serve(id, self.now);
        let admitted = self.tls.poll_admitted(&mut self.router, self.now);
        assert!(
            self.tls.poll_admitted(&mut self.router, self.now).is_none(),
            "one client at a time here"
        );
        admitted
    }

    /// A client through its handshake, with the router's ID.
    fn established(&mut self) -> (Client, Admitted<Socket>) {
        let mut client = Client::new(&self.pki);
        let id = self.accept(&client);
        client.send();
        assert!(self.serve(id).is_none(), "server flight out");
        client.receive();
        client.send();
        let admitted = self.serve(id).expect("established");
        (client, admitted)
    }
}

#[test]
fn a_client_gets_its_id_after_its_handshake_with_what_it_sent_behind_it() {
    let mut s = Setup::new(Config::default());
    let mut client = Client::new(&s.pki);
    let id = s.accept(&client);
    assert!(s.serve(id).is_none(), "nothing to read yet");
    client.send();
    assert!(s.serve(id).is_none());
    assert!(!client.wire.borrow().to_client.is_empty(), "server flight");
    assert_eq!(s.router.stats().connections_accepted, 0, "no ID yet");

    client.receive();
    assert!(!client.tls.is_handshaking());
    // Its Finished and its first frame, in one read.
    client.tls.writer().write_all(FRAME).unwrap();
    client.send();
    let admitted = s.serve(id).expect("established");
    assert_eq!(admitted.peer, PEER);
    assert_eq!(s.router.stats().connections_accepted, 1);
    assert_eq!(s.router.stats().received.frames, 1, "the early frame");
    assert!(s.router.wants_read(admitted.conn));
    assert_eq!(s.counters.completed(), 1);
    assert_eq!(s.tls.poll_timeout(), None, "nothing held");
    assert!(!client.dropped(), "the driver has the socket now");
}

#[test]
fn garbage_gets_an_alert_then_its_socket_is_dropped_and_counted() {
    let mut s = Setup::new(Config::default());
    let client = Client::new(&s.pki);
    let id = s.accept(&client);
    (client.wire.borrow_mut().to_server).extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
    assert!(s.serve(id).is_none());
    assert!(!client.wire.borrow().to_client.is_empty(), "an alert");
    assert!(client.dropped());
    assert_eq!(s.counters.failed(HandshakeFailure::Protocol), 1);
    assert_eq!(s.router.stats().connections_accepted, 0);
}

#[test]
fn an_interrupted_read_is_tried_again_not_taken_for_a_close() {
    let mut s = Setup::new(Config::default());
    let mut client = Client::new(&s.pki);
    let id = s.accept(&client);
    client.send();
    client.wire.borrow_mut().read_error = Some(ErrorKind::Interrupted);
    assert!(s.serve(id).is_none());
    assert!(!client.dropped());
    assert!(!client.wire.borrow().to_client.is_empty(), "server flight");
    assert_eq!(s.counters.failed(HandshakeFailure::Closed), 0);
}

#[test]
fn eof_or_a_failed_read_mid_handshake_drops_the_socket_counted_closed() {
    let mut s = Setup::new(Config::default());
    let eof = Client::new(&s.pki);
    let id = s.accept(&eof);
    eof.wire.borrow_mut().eof = true;
    assert!(s.serve(id).is_none());
    assert!(eof.dropped());

    let reset = Client::new(&s.pki);
    let id = s.accept(&reset);
    reset.wire.borrow_mut().read_error = Some(ErrorKind::ConnectionReset);
    assert!(s.serve(id).is_none());
    assert!(reset.dropped());
    assert_eq!(s.counters.failed(HandshakeFailure::Closed), 2);
    assert_eq!(s.tls.poll_timeout(), None);
}

#[test]
fn a_socket_the_driver_cannot_hold_is_counted_closed_and_not_kept() {
    let mut s = Setup::new(Config::default());
    s.tls
        .accept(PEER, s.now, |_| Err(io::Error::other("out of poller room")));
    assert!(s.tls.poll_admitted(&mut s.router, s.now).is_none());
    assert_eq!(s.counters.failed(HandshakeFailure::Closed), 1);
    assert_eq!(s.tls.poll_timeout(), None, "no deadline left behind");
}

#[test]
fn a_stalled_handshake_drops_its_socket_at_its_deadline() {
    let mut s = Setup::new(Config::default());
    let client = Client::new(&s.pki);
    s.accept(&client);
    let deadline = s.tls.poll_timeout().expect("a deadline");
    assert_eq!(deadline, s.now + TlsLimits::default().handshake_timeout);
    s.tls.handle_timeout(deadline);
    assert!(s.tls.poll_admitted(&mut s.router, deadline).is_none());
    assert!(client.dropped());
    assert_eq!(s.counters.failed(HandshakeFailure::Timeout), 1);
}

#[test]
fn a_client_the_router_refuses_is_dropped_after_its_handshake() {
    let mut s = Setup::new(Config {
        max_connections: 1,
        ..Config::default()
    });
    s.router.handle_accept(s.now).expect("the one plain client");
    let mut client = Client::new(&s.pki);
    let id = s.accept(&client);
    client.send();
    s.serve(id);
    client.receive();
    client.send();
    assert!(s.serve(id).is_none(), "refused");
    assert!(client.dropped());
    assert_eq!(s.counters.completed(), 1, "the handshake did complete");
    assert_eq!(s.router.stats().connections_refused, 1);
}

#[test]
fn reads_reach_the_router_as_plaintext_close_notify_as_eof() {
    let mut s = Setup::new(Config::default());
    let (mut client, mut a) = s.established();
    client.tls.writer().write_all(FRAME).unwrap();
    client.send();
    client.tls.send_close_notify();
    client.send();
    let ciphertext = std::mem::take(&mut client.wire.borrow_mut().to_server);
    s.tls
        .deliver(&mut a.session, &ciphertext, &mut s.router, a.conn, s.now);
    assert_eq!(s.router.stats().received.frames, 1);
    assert!(!s.router.wants_read(a.conn), "at EOF");
    assert_eq!(s.router.stats().closed(CloseCause::Reset), 0);
}

#[test]
fn a_broken_record_resets_the_client() {
    let mut s = Setup::new(Config::default());
    let (_client, mut a) = s.established();
    // An application-data record of garbage: no key decrypts it.
    let record = [
        23, 3, 3, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
    ];
    s.tls
        .deliver(&mut a.session, &record, &mut s.router, a.conn, s.now);
    assert_eq!(s.router.stats().closed(CloseCause::Reset), 1);
}

#[test]
fn a_lingering_close_is_flushed_when_served_then_dropped() {
    let mut s = Setup::new(Config::default());
    let (mut client, mut a) = s.established();
    client.wire.borrow_mut().room = 100;
    let payload = vec![b'x'; 10_000];
    let slices = [IoSlice::new(&payload)];
    assert_eq!(a.session.write(&slices, &mut a.socket).unwrap(), 10_000);
    let session = Box::new(a.session)
        .close(&mut a.socket)
        .expect("records left: the socket took 100 bytes");

    let id = Cell::new(None);
    let socket = a.socket;
    s.tls.linger(*session, a.peer, s.now, |given| {
        id.set(Some(given));
        Ok(socket)
    });
    let id = id.get().expect("lingering");
    assert!(s.serve(id).is_none());
    assert!(!client.dropped(), "still blocked");

    client.wire.borrow_mut().room = usize::MAX;
    assert!(s.serve(id).is_none());
    assert!(client.dropped(), "flushed, then closed");
    assert!(client.receive() == payload, "every byte, then close_notify");
    assert_eq!(s.counters.failed(HandshakeFailure::Timeout), 0);
}

#[test]
fn a_close_the_socket_takes_whole_leaves_nothing_to_linger() {
    let mut s = Setup::new(Config::default());
    let (mut client, mut a) = s.established();
    client.receive();
    assert!(Box::new(a.session).close(&mut a.socket).is_none());
    assert!(client.receive().is_empty());
    assert!(
        client.tls.reader().read(&mut [0; 16]).is_ok_and(|n| n == 0),
        "close_notify received"
    );
}
