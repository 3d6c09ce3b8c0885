//! The tokio client over TLS, with tokio-rustls.

use std::sync::Arc;

use ::tokio::net::{TcpStream, ToSocketAddrs};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use super::Client;
use super::halves::{self, ReadIo, WriteIo};
use crate::decoder::Decoder;
use crate::error::Error;

impl Client {
    /// Connects to the router at `addr` over TLS, checking that its
    /// certificate is valid for `server_name` by `config`'s roots, and waits
    /// for the ID. A failed handshake (an untrusted certificate, a client
    /// certificate the router refused) is [`Error::Tls`].
    ///
    /// [`tls::client_config`](crate::tls::client_config) builds `config`
    /// from PEM files.
    pub async fn connect_tls(
        addr: impl ToSocketAddrs,
        server_name: ServerName<'static>,
        config: Arc<ClientConfig>,
    ) -> Result<Client, Error> {
        let stream = TcpStream::connect(addr).await?;
        Self::with_decoder_tls(stream, server_name, config, Decoder::new()).await
    }

    /// As [`Client::connect_tls`], over a stream connected already, reading
    /// with `decoder` (a fresh [`Decoder::new`], as for
    /// [`Client::with_decoder`]).
    pub async fn with_decoder_tls(
        stream: TcpStream,
        server_name: ServerName<'static>,
        config: Arc<ClientConfig>,
        decoder: Decoder,
    ) -> Result<Client, Error> {
        let stream = TlsConnector::from(config)
            .connect(server_name, stream)
            .await
            .map_err(halves::error)?;
        let (read, write) = ::tokio::io::split(stream);
        Self::read_id(ReadIo::Tls(read), WriteIo::Tls(write), decoder).await
    }
}
