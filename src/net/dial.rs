//! How a worker opens a connection to a server.
//!
//! Production dials TCP, then for a `server ... ssl` runs the client side of a TLS handshake
//! on the same core (`connect_tls`; the caller bounds both with `timeout connect`, as HAProxy
//! does). In-process tests give the worker a function that hands back one end of an in-memory
//! pair and serves the other end itself, so the whole request pipeline (rules, balancing,
//! pools, retries) runs without a socket; TLS needs a real socket and is refused there.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use monoio::io::AsyncWriteRentExt;
use monoio::net::TcpStream;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;

use super::tls::{HandshakeFail, TlsStream};
use super::Stream;

/// Makes in-memory server connections for tests: called with the server's address.
pub type MemDial = dyn Fn(SocketAddr) -> io::Result<Stream>;

#[derive(Clone, Default)]
pub enum Dialer {
    #[default]
    Tcp,
    Mem(Rc<MemDial>),
}

impl Dialer {
    pub async fn connect(&self, addr: SocketAddr) -> io::Result<Stream> {
        match self {
            Dialer::Tcp => TcpStream::connect_addr(addr).await.map(Stream::from),
            Dialer::Mem(dial) => dial(addr),
        }
    }

    /// A connection to `addr` that first sends `preface` (a PROXY protocol header), if any.
    pub async fn connect_sending(
        &self,
        addr: SocketAddr,
        preface: Option<Vec<u8>>,
    ) -> io::Result<Stream> {
        let mut s = self.connect(addr).await?;
        if let Some(bytes) = preface {
            s.write_all(bytes).await.0?;
        }
        Ok(s)
    }

    /// A TCP connection to `addr`, `preface` sent in the clear (a PROXY protocol header
    /// precedes TLS), then a TLS handshake with `config`, sending `sni` (none when `None`).
    /// A refused handshake is an `InvalidData` error naming rustls' reason.
    pub async fn connect_tls(
        &self,
        addr: SocketAddr,
        config: &Arc<ClientConfig>,
        sni: Option<ServerName<'static>>,
        preface: Option<Vec<u8>>,
    ) -> io::Result<Stream> {
        if let Dialer::Mem(_) = self {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "TLS to servers needs a TCP connection",
            ));
        }
        let mut tcp = TcpStream::connect_addr(addr).await?;
        if let Some(bytes) = preface {
            tcp.write_all(bytes).await.0?;
        }
        // Small heads and responses must leave at once, as on plain connections.
        let _ = tcp.set_nodelay(true);
        match TlsStream::connect(tcp, config, sni).await {
            Ok(t) => Ok(Stream::Tls(Box::new(t))),
            Err(e) => Err(handshake_error(e)),
        }
    }
}

/// A failed handshake as an I/O error for the connect path.
pub fn handshake_error(e: HandshakeFail) -> io::Error {
    match e {
        HandshakeFail::Timeout => io::ErrorKind::TimedOut.into(),
        HandshakeFail::Gone => io::ErrorKind::NotConnected.into(),
        HandshakeFail::Io(e) => e,
        HandshakeFail::Tls(e) => io::Error::new(io::ErrorKind::InvalidData, e),
    }
}
