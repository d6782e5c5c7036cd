//! Sockets and streams.
//!
//! - this file: listening sockets, one SO_REUSEPORT socket per bind line per core (socket2)
//! - `stream.rs`: `Stream`, the one connection type the proxy reads and writes, client side
//!   and server side alike: plain TCP, TLS (both sides), an in-memory pair for
//!   in-process tests (`mem.rs`). Every raw-socket trick (peek, shutdown, reset) lives there.
//! - `tls.rs`: `TlsStream`, TLS over TCP (rustls' buffered connection, monoio's owned
//!   buffers), both sides: the server side of a handshake on the accepting core, the client
//!   side on the core that connects to a `server ... ssl`; then plaintext reads and writes
//! - `dial.rs`: `Dialer`, how a worker opens server connections (TCP, then TLS for `ssl`
//!   servers; or in-memory in tests)
//! - `proxy_proto.rs`: the PROXY protocol, v1 and v2: a header taken off an `accept-proxy`
//!   connection without reading past it, and the headers `send-proxy*` servers are sent
//! - `queue.rs`: a listener's queue taken in at a stop, then the listener shut down
//! - `handover.rs`, `ticket_handover.rs`: `-x`, the listeners and the TLS ticket keys handed
//!   from the old process to the new one

mod dial;
pub mod handover;
mod mem;
pub mod proxy_proto;
pub mod queue;
mod stream;
pub mod ticket_handover;
mod tls;

pub use dial::{handshake_error, Dialer};
pub use mem::MemStream;
pub use stream::{Aborter, Stream};
pub use tls::{HandshakeFail, TlsStream};

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

/// HAProxy's default listen backlog is the frontend's maxconn; the kernel caps it at somaxconn.
pub const LISTEN_BACKLOG: i32 = 4096;

/// A socket bound to `addr` with SO_REUSEPORT, not yet listening.
pub fn bound_socket(addr: SocketAddr) -> io::Result<Socket> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    sock.set_reuse_port(true)?;
    if addr.is_ipv6() {
        // `[::]:80` serves IPv6 only, as in HAProxy (`*:80` is the IPv4 wildcard there).
        sock.set_only_v6(true)?;
    }
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    Ok(sock)
}

/// A listening SO_REUSEPORT socket on `addr`, for one core.
pub fn listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let sock = bound_socket(addr)?;
    set_accepted_nodelay(&sock)?;
    sock.listen(LISTEN_BACKLOG)?;
    Ok(sock.into())
}

/// TCP_NODELAY on a listening socket. Linux copies it to every connection accepted from it, so
/// a client connection needs no setsockopt of its own: small heads and responses leave at once
/// (Nagle would hold them back for an ACK), for one syscall per listener, not per connection.
pub fn set_accepted_nodelay(listener: &impl std::os::fd::AsFd) -> io::Result<()> {
    socket2::SockRef::from(listener).set_nodelay(true)
}

/// Resolves port 0 once for all cores: binds (without listening, so it never takes a
/// connection) and returns the port the kernel chose plus the socket that holds it until every
/// core has bound its own listener.
pub fn reserve(addr: SocketAddr) -> io::Result<(SocketAddr, Socket)> {
    let sock = bound_socket(addr)?;
    let local = sock
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("not an inet socket"))?;
    Ok((local, sock))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    /// Accepts one connection made to `l` and says whether it has TCP_NODELAY.
    fn accepted_has_nodelay(l: &TcpListener) -> bool {
        l.set_nonblocking(false).unwrap();
        let _client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (conn, _) = l.accept().unwrap();
        socket2::SockRef::from(&conn).nodelay().unwrap()
    }

    #[test]
    fn accepted_sockets_inherit_tcp_nodelay_from_the_listener() {
        let l = listener(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        assert!(accepted_has_nodelay(&l));
        // Without it on the listener, an accepted socket has Nagle on: the listener's is what
        // the connection gets.
        let plain = TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(!accepted_has_nodelay(&plain));
        set_accepted_nodelay(&plain).unwrap();
        assert!(accepted_has_nodelay(&plain));
    }
}
