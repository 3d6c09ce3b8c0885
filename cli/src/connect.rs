//! Where the router is and how to reach it: the address, and TLS when
//! `--tls-ca` is given.

use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use router_client::blocking::Client;
use router_client::tls::{self, ServerName, rustls::ClientConfig};
use router_client::{Decoder, Error};

use crate::error::CliError;

/// The options every command that connects takes.
#[derive(Debug, Args)]
pub(crate) struct Connection {
    /// The router's address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) addr: String,
    /// Speak TLS, trusting the CA certificates in this PEM file (the router
    /// runs with --tls-cert and --tls-key).
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// This client's certificate chain (PEM), for a router that asks for
    /// one (--tls-client-ca); with --tls-key.
    #[arg(long, value_name = "FILE", requires_all = ["tls_ca", "tls_key"])]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The name the router's certificate must be valid for [default: the
    /// host of --addr].
    #[arg(long, value_name = "NAME", requires = "tls_ca")]
    tls_server_name: Option<String>,
}

impl Connection {
    /// Connects, completes the TLS handshake if asked to, and reads the
    /// connection's ID.
    pub(crate) fn connect(&self, decoder: Decoder) -> Result<Client, CliError> {
        let tls = self.tls()?;
        let stream = TcpStream::connect(&self.addr).map_err(|source| CliError::Connect {
            addr: self.addr.clone(),
            source,
        })?;
        let Some((config, name)) = tls else {
            return Client::with_decoder(stream, decoder)
                .map_err(|error| CliError::connection(&self.addr, error));
        };
        Client::with_decoder_tls(stream, name, config, decoder).map_err(|error| match error {
            Error::Tls(source) => CliError::Handshake {
                addr: self.addr.clone(),
                source,
            },
            error => CliError::connection(&self.addr, error),
        })
    }

    /// The TLS config and server name, if `--tls-ca` was given.
    fn tls(&self) -> Result<Option<(Arc<ClientConfig>, ServerName<'static>)>, CliError> {
        let Some(ca) = &self.tls_ca else {
            return Ok(None);
        };
        let identity = self.tls_cert.as_deref().zip(self.tls_key.as_deref());
        let config = tls::client_config(ca, identity).map_err(CliError::TlsFiles)?;
        let name = match &self.tls_server_name {
            Some(name) => name.clone(),
            None => host_of(&self.addr).to_owned(),
        };
        let name = ServerName::try_from(name.clone()).map_err(|_| CliError::ServerName { name })?;
        Ok(Some((config, name)))
    }
}

/// The host part of `host:port`, `[v6]:port`, or a bare host.
fn host_of(addr: &str) -> &str {
    if let Some(bracketed) = addr.strip_prefix('[') {
        return bracketed
            .split_once(']')
            .map_or(bracketed, |(host, _)| host);
    }
    addr.rsplit_once(':').map_or(addr, |(host, _)| host)
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn the_host_is_the_address_without_its_port() {
        assert_eq!(host_of("127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(host_of("router.example:443"), "router.example");
        assert_eq!(host_of("[::1]:8080"), "::1");
        assert_eq!(host_of("localhost"), "localhost");
    }
}
