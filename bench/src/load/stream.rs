//! The connection layer: a target address and scheme, and the stream a connection yields.
//!
//! An enum rather than a generic so that one client loop serves every kind of connection:
//! `Stream::Plain` is a TcpStream, `Stream::Tls` the same TcpStream under rustls (`tls.rs`),
//! and the client code above it does not change.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use bytes::Bytes;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use monoio::BufResult;
use rustls::ClientConfig;

use super::tls::{HandshakeError, TlsClient, TlsStream};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Http,
    /// `https://` or `--tls`: every connection is TLS.
    Https,
}

/// A parsed `http(s)://host[:port][/path]` target.
#[derive(Clone, Debug)]
pub struct Target {
    pub scheme: Scheme,
    pub addr: SocketAddr,
    /// `host[:port]` as written, for the Host header.
    pub authority: String,
    pub path: String,
    /// Set when the scheme is Https (by `Target::with_tls`).
    pub tls: Option<TlsClient>,
}

/// Why a connection could not be opened.
#[derive(Debug)]
pub enum ConnectError {
    Tcp(io::Error),
    Tls(HandshakeError),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Tcp(e) => write!(f, "connect: {e}"),
            ConnectError::Tls(e) => write!(f, "tls handshake: {e}"),
        }
    }
}

/// A new connection and, for TLS, whether its handshake resumed a session.
pub struct Connected {
    pub stream: Stream,
    pub tls_resumed: Option<bool>,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, String> {
        let (scheme, rest, default_port) = if let Some(r) = url.strip_prefix("http://") {
            (Scheme::Http, r, 80)
        } else if let Some(r) = url.strip_prefix("https://") {
            (Scheme::Https, r, 443)
        } else {
            return Err(format!(
                "{url}: expected http://HOST[:PORT][/PATH] or https://..."
            ));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return Err(format!("{url}: no host"));
        }
        let with_port = if authority
            .rsplit(':')
            .next()
            .is_some_and(|p| p.parse::<u16>().is_ok())
            && !authority.ends_with(']')
        {
            authority.to_string()
        } else {
            format!("{authority}:{default_port}")
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| format!("{url}: cannot resolve {authority}: {e}"))?
            .next()
            .ok_or_else(|| format!("{url}: {authority} has no address"))?;
        Ok(Target {
            scheme,
            addr,
            authority: authority.to_string(),
            path: path.to_string(),
            tls: None,
        })
    }

    /// The host part of the authority (what SNI names by default).
    pub fn host(&self) -> &str {
        match self.authority.rsplit_once(':') {
            Some((h, p)) if p.parse::<u16>().is_ok() && !self.authority.ends_with(']') => h,
            _ => &self.authority,
        }
    }

    /// Makes every connection TLS with `client`.
    pub fn with_tls(mut self, client: TlsClient) -> Target {
        self.scheme = Scheme::Https;
        self.tls = Some(client);
        self
    }

    /// The TLS config one connection of the load uses for all its reconnects (`None`: plain).
    pub fn conn_tls(&self) -> Option<Arc<ClientConfig>> {
        self.tls.as_ref().map(TlsClient::for_connection)
    }

    /// Opens a connection (and runs the TLS handshake with `tls`, from `conn_tls`).
    pub async fn connect_with(
        &self,
        tls: Option<&Arc<ClientConfig>>,
    ) -> Result<Connected, ConnectError> {
        let s = TcpStream::connect_addr(self.addr)
            .await
            .map_err(ConnectError::Tcp)?;
        s.set_nodelay(true).map_err(ConnectError::Tcp)?;
        match &self.tls {
            Some(client) => {
                let config = tls.cloned().unwrap_or_else(|| client.for_connection());
                let (t, resumed) = TlsStream::handshake(s, config, client.name().clone())
                    .await
                    .map_err(ConnectError::Tls)?;
                Ok(Connected {
                    stream: Stream::Tls(Box::new(t)),
                    tls_resumed: Some(resumed),
                })
            }
            // Target::with_tls was not called for an https:// URL: refuse rather than talk
            // plain HTTP to a TLS port.
            None if self.scheme == Scheme::Https => Err(ConnectError::Tls(HandshakeError::Io(
                io::Error::other("https target without TLS settings"),
            ))),
            None => Ok(Connected {
                stream: Stream::Plain(s),
                tls_resumed: None,
            }),
        }
    }

    /// Opens one connection, TLS when the target is (a fresh session each time).
    pub async fn connect(&self) -> Result<Stream, ConnectError> {
        let tls = self.conn_tls();
        Ok(self.connect_with(tls.as_ref()).await?.stream)
    }
}

/// One open connection to the target.
pub enum Stream {
    Plain(TcpStream),
    /// Boxed: rustls' connection state is large and most loads are plain.
    Tls(Box<TlsStream>),
}

impl Stream {
    pub async fn read(&mut self, buf: Vec<u8>) -> BufResult<usize, Vec<u8>> {
        match self {
            Stream::Plain(s) => s.read(buf).await,
            Stream::Tls(s) => s.read(buf).await,
        }
    }

    pub async fn write_all(&mut self, buf: Bytes) -> BufResult<usize, Bytes> {
        match self {
            Stream::Plain(s) => s.write_all(buf).await,
            Stream::Tls(s) => s.write_all(buf).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let t = Target::parse("http://127.0.0.1:8080/size/10?x=1").unwrap();
        assert_eq!(t.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(
            (t.authority.as_str(), t.path.as_str()),
            ("127.0.0.1:8080", "/size/10?x=1")
        );
        let t = Target::parse("http://127.0.0.1").unwrap();
        assert_eq!((t.addr.port(), t.path.as_str()), (80, "/"));
        let t = Target::parse("http://[::1]:9/").unwrap();
        assert_eq!(t.addr, "[::1]:9".parse().unwrap());
        assert_eq!(t.host(), "[::1]");
        assert!(Target::parse("ftp://x").is_err());
        let t = Target::parse("https://127.0.0.1/").unwrap();
        assert_eq!((t.scheme, t.addr.port()), (Scheme::Https, 443));
        assert_eq!(t.host(), "127.0.0.1");
    }
}
