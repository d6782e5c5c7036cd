//! How a worker opens a connection to a server.
//!
//! Production dials TCP. In-process tests give the worker a function that hands back one end
//! of an in-memory pair and serves the other end itself, so the whole request pipeline (rules,
//! balancing, pools, retries) runs without a socket.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;

use monoio::net::TcpStream;

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
}
