//! The connection layer: a target address and scheme, and the stream a connection yields.
//!
//! An enum rather than a generic so that one client loop serves every kind of connection:
//! TLS slots in as `Scheme::Https` and `Stream::Tls(...)` (monoio-rustls over the same
//! TcpStream), and the client code above it does not change.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use bytes::Bytes;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use monoio::BufResult;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Http,
    // Https: TLS, with a flag for a new TLS session per connection (full handshakes).
}

/// A parsed `http://host[:port][/path]` target.
#[derive(Clone, Debug)]
pub struct Target {
    pub scheme: Scheme,
    pub addr: SocketAddr,
    /// `host[:port]` as written, for the Host header.
    pub authority: String,
    pub path: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, String> {
        let rest = if let Some(r) = url.strip_prefix("http://") {
            r
        } else if url.starts_with("https://") {
            return Err(format!("{url}: https is not supported yet (the TLS issue)"));
        } else {
            return Err(format!("{url}: expected http://HOST[:PORT][/PATH]"));
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
            format!("{authority}:80")
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| format!("{url}: cannot resolve {authority}: {e}"))?
            .next()
            .ok_or_else(|| format!("{url}: {authority} has no address"))?;
        Ok(Target {
            scheme: Scheme::Http,
            addr,
            authority: authority.to_string(),
            path: path.to_string(),
        })
    }

    pub async fn connect(&self) -> io::Result<Stream> {
        match self.scheme {
            Scheme::Http => {
                let s = TcpStream::connect_addr(self.addr).await?;
                s.set_nodelay(true)?;
                Ok(Stream::Plain(s))
            }
        }
    }
}

/// One open connection to the target.
pub enum Stream {
    Plain(TcpStream),
}

impl Stream {
    pub async fn read(&mut self, buf: Vec<u8>) -> BufResult<usize, Vec<u8>> {
        match self {
            Stream::Plain(s) => s.read(buf).await,
        }
    }

    pub async fn write_all(&mut self, buf: Bytes) -> BufResult<usize, Bytes> {
        match self {
            Stream::Plain(s) => s.write_all(buf).await,
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
        assert!(Target::parse("ftp://x").is_err());
        assert!(Target::parse("https://x").is_err());
    }
}
