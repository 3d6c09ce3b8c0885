//! Reading a Prometheus endpoint as a scraper does: `GET /metrics` over HTTP,
//! then the samples of the text exposition.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::within;

/// The samples of one scrape, by series: the metric name and its labels as
/// exposed, such as `router_frames_dropped_total{cause="truncated"}`.
#[derive(Debug, Clone)]
pub struct Exposition {
    samples: HashMap<String, f64>,
    text: String,
}

impl Exposition {
    /// The value of `series`. Panics, showing the whole exposition, if it
    /// is not there: a metric that vanished is a bug of the exporter.
    pub fn value(&self, series: &str) -> f64 {
        match self.samples.get(series) {
            Some(&value) => value,
            None => panic!("no series {series} in:\n{}", self.text),
        }
    }

    fn parse(text: String) -> io::Result<Exposition> {
        let mut samples = HashMap::new();
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let parsed = line
                .rsplit_once(' ')
                .and_then(|(series, value)| Some((series, value.parse().ok()?)));
            let Some((series, value)) = parsed else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("not a sample: {line:?}"),
                ));
            };
            samples.insert(series.to_owned(), value);
        }
        Ok(Exposition { samples, text })
    }
}

/// Scrapes `http://addr/metrics` once; fails unless the answer is 200 with
/// a body that parses.
pub async fn scrape(addr: SocketAddr) -> io::Result<Exposition> {
    let response = within("scrape", async {
        let mut stream = TcpStream::connect(addr).await?;
        let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        Ok::<_, io::Error>(response)
    })
    .await??;
    let Some(("HTTP/1.1 200 OK", body)) = response
        .split_once("\r\n")
        .and_then(|(status, rest)| Some((status, rest.split_once("\r\n\r\n")?.1)))
    else {
        return Err(io::Error::other(format!("scrape failed:\n{response}")));
    };
    Exposition::parse(body.to_owned())
}
