//! The layer against a real rustls client, over in-memory byte queues, with
//! time as an argument.

use std::io::{IoSlice, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ClientConnection;

use crate::test_certs::TestPki;
use crate::{
    HandshakeFailure, PendingId, Received, Session, Tls, TlsCounters, TlsEvent, TlsLimits,
};

struct Pair {
    tls: Tls,
    counters: Arc<TlsCounters>,
    client: ClientConnection,
    id: PendingId,
}

impl Pair {
    fn new(
        pki: &TestPki,
        client_auth: bool,
        client: Arc<rustls::ClientConfig>,
        now: Instant,
    ) -> Pair {
        let counters = Arc::new(TlsCounters::default());
        let mut tls = Tls::new(
            pki.server_config(client_auth, TlsLimits::default()),
            Arc::clone(&counters),
        );
        let id = tls.accept(now).expect("room for a handshake");
        let client = ClientConnection::new(client, TestPki::server_name()).expect("a client");
        Pair {
            tls,
            counters,
            client,
            id,
        }
    }

    /// Moves bytes both ways until neither side has any to send; returns the
    /// layer's events.
    fn handshake(&mut self, now: Instant) -> Vec<TlsEvent> {
        let mut events = Vec::new();
        for _ in 0..10 {
            let mut to_server = Vec::new();
            while self.client.wants_write() {
                self.client.write_tls(&mut to_server).unwrap();
            }
            self.tls.handle_input(self.id, &to_server, now);
            let mut to_client = Vec::new();
            self.tls.flush(self.id, &mut to_client, now);
            events.extend(std::iter::from_fn(|| self.tls.poll_event()));
            if !to_client.is_empty() {
                let _ = self.client.read_tls(&mut to_client.as_slice());
                let _ = self.client.process_new_packets();
            }
            if to_server.is_empty() && to_client.is_empty() {
                break;
            }
        }
        events
    }
}

fn received(session: &mut Session, ciphertext: &[u8]) -> (Vec<u8>, Received) {
    let mut plaintext = Vec::new();
    let mut scratch = [0; 4096];
    let state = session
        .receive(ciphertext, &mut scratch, |bytes| {
            plaintext.extend_from_slice(bytes)
        })
        .expect("valid records");
    (plaintext, state)
}

#[test]
fn a_handshake_yields_a_session_that_carries_bytes_both_ways() {
    let pki = TestPki::new();
    let now = Instant::now();
    let mut pair = Pair::new(&pki, false, pki.client_config(None), now);
    assert_eq!(pair.tls.poll_timeout(), Some(now + Duration::from_secs(10)));
    assert_eq!(pair.tls.handshakes(), 1);
    assert!(pair.tls.wants_input(pair.id));

    assert_eq!(pair.handshake(now), [TlsEvent::Established(pair.id)]);
    assert!(
        !pair.tls.wants_input(pair.id),
        "the rest is the router's to read"
    );
    let (mut session, early) = pair
        .tls
        .take_session(pair.id)
        .expect("the established session");
    assert!(early.is_empty());
    assert_eq!(
        pair.tls.poll_timeout(),
        None,
        "no deadline once established"
    );
    assert_eq!(pair.tls.handshakes(), 0);
    assert_eq!(pair.counters.completed(), 1);

    // Client to server, in one read.
    pair.client.writer().write_all(b"hello router").unwrap();
    let mut ciphertext = Vec::new();
    pair.client.write_tls(&mut ciphertext).unwrap();
    assert_eq!(
        received(&mut session, &ciphertext),
        (b"hello router".to_vec(), Received::Open)
    );

    // Server to client: the router's slices, taken whole.
    let mut socket = Vec::new();
    let slices = [IoSlice::new(b"\0\0\0\x07"), IoSlice::new(b"hi\0")];
    assert_eq!(session.write(&slices, &mut socket).unwrap(), 7);
    assert!(!session.wants_flush());
    assert_eq!(client_receive(&mut pair.client, &socket), b"\0\0\0\x07hi\0");

    // close_notify ends the client's stream.
    pair.client.send_close_notify();
    let mut ciphertext = Vec::new();
    pair.client.write_tls(&mut ciphertext).unwrap();
    assert_eq!(
        received(&mut session, &ciphertext),
        (Vec::new(), Received::Closed)
    );
}

/// Everything `client` decrypts from `ciphertext`.
fn client_receive(client: &mut ClientConnection, mut ciphertext: &[u8]) -> Vec<u8> {
    let mut got = Vec::new();
    while !ciphertext.is_empty() {
        client.read_tls(&mut ciphertext).unwrap();
        client.process_new_packets().unwrap();
        let mut chunk = [0; 4096];
        while let Ok(n @ 1..) = client.reader().read(&mut chunk) {
            got.extend_from_slice(&chunk[..n]);
        }
    }
    got
}

/// A socket that takes `room` bytes, then says `WouldBlock`.
struct Blocking {
    taken: Vec<u8>,
    room: usize,
}

impl Blocking {
    fn with_room(room: usize) -> Self {
        Blocking {
            taken: Vec::new(),
            room,
        }
    }
}

/// A pair past its handshake, and the server's session.
fn established(now: Instant) -> (Pair, Session) {
    let pki = TestPki::new();
    let mut pair = Pair::new(&pki, false, pki.client_config(None), now);
    pair.handshake(now);
    let (session, _) = pair.tls.take_session(pair.id).expect("established");
    (pair, session)
}

impl Write for Blocking {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.room - self.taken.len());
        if n == 0 {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        self.taken.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_blocked_socket_keeps_the_records_and_takes_no_more_plaintext() {
    let now = Instant::now();
    let (mut pair, mut session) = established(now);
    let mut socket = Blocking::with_room(100);
    let payload = vec![b'x'; 10_000];
    assert_eq!(
        session
            .write(&[IoSlice::new(&payload)], &mut socket)
            .unwrap(),
        10_000
    );
    assert!(session.wants_flush(), "the socket took 100 bytes only");
    let error = session
        .write(&[IoSlice::new(b"more")], &mut socket)
        .unwrap_err();
    assert_eq!(
        error.kind(),
        std::io::ErrorKind::WouldBlock,
        "nothing taken"
    );

    socket.room = usize::MAX;
    session.flush(&mut socket).unwrap();
    assert!(!session.wants_flush());
    let got = client_receive(&mut pair.client, &socket.taken);
    assert!(
        got == payload,
        "every byte once, in order: {} bytes",
        got.len()
    );
}

#[test]
fn garbage_instead_of_a_client_hello_is_refused_and_counted() {
    let pki = TestPki::new();
    let now = Instant::now();
    let mut pair = Pair::new(&pki, false, pki.client_config(None), now);
    pair.tls
        .handle_input(pair.id, b"GET / HTTP/1.1\r\n\r\n", now);
    assert!(
        !pair.tls.wants_input(pair.id),
        "a failed client is not read"
    );
    // The alert rustls queued goes out, then the socket is closed.
    let mut alert = Vec::new();
    pair.tls.flush(pair.id, &mut alert, now);
    assert!(!alert.is_empty());
    assert_eq!(pair.tls.poll_event(), Some(TlsEvent::Close(pair.id)));
    assert_eq!(pair.counters.failed(HandshakeFailure::Protocol), 1);
    assert_eq!(pair.counters.completed(), 0);
    assert_eq!(pair.tls.handshakes(), 0);
}

#[test]
fn a_stalled_handshake_is_closed_at_its_deadline_and_not_before() {
    let pki = TestPki::new();
    let now = Instant::now();
    let mut pair = Pair::new(&pki, false, pki.client_config(None), now);
    let deadline = now + TlsLimits::default().handshake_timeout;
    pair.tls.handle_timeout(deadline - Duration::from_millis(1));
    assert_eq!(pair.tls.poll_event(), None);
    pair.tls.handle_timeout(deadline);
    assert_eq!(pair.tls.poll_event(), Some(TlsEvent::Close(pair.id)));
    assert_eq!(pair.counters.failed(HandshakeFailure::Timeout), 1);
    assert_eq!(pair.tls.poll_timeout(), None);
}

#[test]
fn past_max_handshakes_a_connection_is_refused_and_counted() {
    let pki = TestPki::new();
    let counters = Arc::new(TlsCounters::default());
    let limits = TlsLimits {
        max_handshakes: 2,
        ..TlsLimits::default()
    };
    let mut tls = Tls::new(pki.server_config(false, limits), Arc::clone(&counters));
    let now = Instant::now();
    let first = tls.accept(now).unwrap();
    assert!(tls.accept(now).is_some());
    assert_eq!(tls.accept(now), None);
    assert_eq!(counters.failed(HandshakeFailure::TooMany), 1);
    tls.handle_closed(first, now);
    assert_eq!(tls.poll_event(), Some(TlsEvent::Close(first)));
    assert_eq!(counters.failed(HandshakeFailure::Closed), 1);
    assert!(tls.accept(now).is_some(), "room again");
}

#[test]
fn mutual_tls_accepts_the_cas_clients_only() {
    let pki = TestPki::new();
    let now = Instant::now();
    let trusted = pki.issue("client");
    let mut pair = Pair::new(&pki, true, pki.client_config(Some(&trusted)), now);
    assert_eq!(pair.handshake(now), [TlsEvent::Established(pair.id)]);

    let mut anonymous = Pair::new(&pki, true, pki.client_config(None), now);
    assert_eq!(anonymous.handshake(now), [TlsEvent::Close(anonymous.id)]);
    assert_eq!(anonymous.counters.failed(HandshakeFailure::Certificate), 1);

    let other_ca = TestPki::new();
    let stranger = other_ca.issue("client");
    let mut foreign = Pair::new(&pki, true, pki.client_config(Some(&stranger)), now);
    assert_eq!(foreign.handshake(now), [TlsEvent::Close(foreign.id)]);
    assert_eq!(foreign.counters.failed(HandshakeFailure::Certificate), 1);
}

#[test]
fn a_lingering_close_is_held_until_flushed_or_out_of_time() {
    let now = Instant::now();
    let (mut pair, mut session) = established(now);
    let mut socket = Blocking::with_room(10);
    session
        .write(&[IoSlice::new(&[b'y'; 1000])], &mut socket)
        .unwrap();
    let session = Box::new(session).close(&mut socket).expect("records left");
    let lingering = pair.tls.linger(*session, now).expect("room to linger");
    let deadline = now + TlsLimits::default().handshake_timeout;
    assert_eq!(pair.tls.poll_timeout(), Some(deadline));
    pair.tls.flush(lingering, &mut socket, now);
    assert_eq!(pair.tls.poll_event(), None, "still blocked");
    let mut open = Vec::new();
    pair.tls.flush(lingering, &mut open, now);
    assert_eq!(pair.tls.poll_event(), Some(TlsEvent::Close(lingering)));

    // A client that never reads again is given up at the deadline.
    let (mut pair, mut session) = established(now);
    let mut stuck = Blocking::with_room(10);
    session
        .write(&[IoSlice::new(&[b'z'; 1000])], &mut stuck)
        .unwrap();
    let session = Box::new(session).close(&mut stuck).expect("records left");
    let lingering = pair.tls.linger(*session, now).expect("room to linger");
    pair.tls.handle_timeout(deadline);
    assert_eq!(pair.tls.poll_event(), Some(TlsEvent::Close(lingering)));
    assert_eq!(
        pair.counters.failed(HandshakeFailure::Timeout),
        0,
        "not a handshake"
    );
}
