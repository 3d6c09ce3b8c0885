//! A protocol client for tests: connects, learns its ID, sends frames, and
//! checks what the router delivers, every wait bounded by [`PATIENCE`].
//!
//! [`PATIENCE`]: crate::PATIENCE

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::within;

/// The bytes of one frame on the wire: `dest`, `payload`, terminator, as
/// [`router_client::encode_frame`] writes them.
///
/// Panics if `payload` holds a `0x00`, which the protocol forbids: such a
/// frame would be a test bug, not a router bug.
pub fn frame(dest: u32, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    router_client::encode_frame(dest, payload, &mut bytes).expect("a payload never holds 0x00");
    bytes
}

/// Whether `error` is how a socket the router closed abruptly shows up: a
/// reset instead of a clean EOF, which the router causes by closing a socket
/// it had not read to the end.
pub fn is_reset(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// A connected client that has read its ID, over plain TCP or, as
/// [`TlsClient`], over TLS.
#[derive(Debug)]
pub struct Client<S = TcpStream> {
    /// The ID the router gave it.
    pub id: u32,
    stream: S,
    /// Bytes read past the last frame handed out. Empty (unallocated) between
    /// reads, so that thousands of idle clients cost the test process nothing.
    unread: Vec<u8>,
}

impl Client {
    /// Connects to `addr` and reads the 4-byte ID the router sends first.
    pub async fn connect(addr: SocketAddr) -> io::Result<Client> {
        let stream = within("connection", TcpStream::connect(addr)).await??;
        Self::read_id(stream).await
    }

    /// Connects with a receive buffer of about `bytes` (the kernel rounds
    /// it), so that what the router sends while the client is not reading
    /// stays queued in the router rather than in the client's kernel.
    pub async fn connect_with_receive_buffer(addr: SocketAddr, bytes: u32) -> io::Result<Client> {
        let socket = TcpSocket::new_v4()?;
        socket.set_recv_buffer_size(bytes)?;
        let stream = within("connection", socket.connect(addr)).await??;
        Self::read_id(stream).await
    }

    /// The socket, for tests that shape writes themselves.
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Aborts the connection: the router's next read or write on it fails
    /// with a reset instead of seeing an orderly EOF.
    pub fn reset(self) -> io::Result<()> {
        self.stream.set_zero_linger()?;
        // With a zero linger time, closing sends RST rather than FIN.
        drop(self);
        Ok(())
    }
}

/// A client over TLS.
pub type TlsClient = Client<TlsStream<TcpStream>>;

impl TlsClient {
    /// Connects to `addr`, completes a TLS handshake for `localhost` with
    /// `config`, and reads the ID the router sends first. With a
    /// `receive_buffer`, as [`Client::connect_with_receive_buffer`].
    pub async fn connect_tls(
        addr: SocketAddr,
        config: Arc<tokio_rustls::rustls::ClientConfig>,
        receive_buffer: Option<u32>,
    ) -> io::Result<TlsClient> {
        let socket = TcpSocket::new_v4()?;
        if let Some(bytes) = receive_buffer {
            socket.set_recv_buffer_size(bytes)?;
        }
        let stream = within("connection", socket.connect(addr)).await??;
        stream.set_nodelay(true)?;
        let name = router_tls::test_certs::TestPki::server_name();
        let stream = within(
            "TLS handshake",
            TlsConnector::from(config).connect(name, stream),
        )
        .await??;
        Self::read_id(stream).await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    async fn read_id(mut stream: S) -> io::Result<Client<S>> {
        let id = within("ID from the router", stream.read_u32()).await??;
        Ok(Client {
            id,
            stream,
            unread: Vec::new(),
        })
    }

    /// Sends one frame to `dest`.
    pub async fn send(&mut self, dest: u32, payload: &[u8]) -> io::Result<()> {
        self.write_raw(&frame(dest, payload)).await
    }

    /// Writes `bytes` as they are: frames, parts of frames, or garbage.
    pub async fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        within("write to the router", async {
            self.stream.write_all(bytes).await?;
            // A TLS stream holds what it encrypted until flushed.
            self.stream.flush().await
        })
        .await?
    }

    /// Reads the next delivery and checks that it is exactly `payload` and its
    /// terminator. Panics, naming this client, on any other byte.
    pub async fn expect_delivery(&mut self, payload: &[u8]) -> io::Result<()> {
        let mut expected = payload.to_vec();
        expected.push(0);
        let got = self.read_exact_bytes(expected.len()).await?;
        assert!(
            got == expected,
            "client {} expected {}, got {}",
            self.id,
            show(&expected),
            show(&got)
        );
        Ok(())
    }

    /// Reads the next delivered payload, without its terminator.
    pub async fn read_frame(&mut self) -> io::Result<Vec<u8>> {
        within("delivered frame", async {
            loop {
                if let Some(end) = self.unread.iter().position(|&b| b == 0) {
                    let mut payload: Vec<u8> = self.unread.drain(..=end).collect();
                    payload.pop();
                    return Ok(payload);
                }
                if self.read_more().await? == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("client {} closed in the middle of a frame", self.id),
                    ));
                }
            }
        })
        .await?
    }

    /// Checks that the router closes this connection without sending another
    /// byte: the next read is EOF, or a reset.
    pub async fn expect_closed(&mut self) -> io::Result<()> {
        let rest = self.read_until_closed().await?;
        assert!(
            rest.is_empty(),
            "client {} expected the router to close it, got {} more bytes: {}",
            self.id,
            rest.len(),
            show(&rest)
        );
        Ok(())
    }

    /// Reads everything until the router closes the connection (EOF or reset).
    pub async fn read_until_closed(&mut self) -> io::Result<Vec<u8>> {
        within("close by the router", async {
            loop {
                match self.read_more().await {
                    Ok(0) => return Ok(std::mem::take(&mut self.unread)),
                    Ok(_) => {}
                    Err(error) if is_reset(&error) => return Ok(std::mem::take(&mut self.unread)),
                    Err(error) => return Err(error),
                }
            }
        })
        .await?
    }

    /// Closes the sending side and waits for the router to close the
    /// connection in turn, with nothing more delivered. When this returns the
    /// router has processed the EOF and retired this client's ID.
    pub async fn disconnect(mut self) -> io::Result<()> {
        within("half-close", self.stream.shutdown()).await??;
        self.expect_closed().await
    }

    async fn read_exact_bytes(&mut self, len: usize) -> io::Result<Vec<u8>> {
        within("delivered bytes", async {
            while self.unread.len() < len {
                if self.read_more().await? == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "client {} was closed after {} of {len} expected bytes: {}",
                            self.id,
                            self.unread.len(),
                            show(&self.unread)
                        ),
                    ));
                }
            }
            Ok(self.unread.drain(..len).collect())
        })
        .await?
    }

    /// One read into `unread`; 0 at EOF.
    async fn read_more(&mut self) -> io::Result<usize> {
        let mut chunk = [0; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        self.unread.extend_from_slice(&chunk[..n]);
        Ok(n)
    }
}

/// Bytes for an assertion message: escaped, and cut short when long.
fn show(bytes: &[u8]) -> String {
    const SHOWN: usize = 80;
    let head = &bytes[..bytes.len().min(SHOWN)];
    let mut text = format!("{} bytes \"{}\"", bytes.len(), head.escape_ascii());
    if bytes.len() > SHOWN {
        text.push('…');
    }
    text
}
