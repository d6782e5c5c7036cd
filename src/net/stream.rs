//! `Stream`: a connection the proxy reads and writes, whatever carries it.
//!
//! An enum rather than a generic parameter: the HTTP session, the relay, the idle wait and the
//! pools hold one type, and a new transport is one more variant here (as TLS was), not a type
//! parameter threaded through every stage. Each I/O call costs one `match`.
//!
//! Everything that needs the raw socket lives here and nowhere else: the non-blocking peek
//! (is there data? has the peer closed?), the reset close (SO_LINGER 0), and the shutdown that
//! ends a relay's two directions from either half.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, CancelableAsyncReadRent, Canceller, Split};
use monoio::net::TcpStream;
use monoio::BufResult;

use super::mem::{MemAbort, MemStream};
use super::proxy_proto::Addrs;
use super::tls::{HandshakeFail, TlsStream};
use crate::tls::facts::ConnFacts;
use crate::tls::server_config::BindConfig;
use std::time::Duration;

/// What an address lookup that failed reports (never, for an accepted stream: both its
/// addresses were looked up and kept when it came).
const UNKNOWN: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::UNSPECIFIED,
    0,
));

pub enum Stream {
    Tcp(TcpStream),
    /// A client connection whose PROXY protocol header (`accept-proxy`) named other
    /// addresses: they are its addresses for rules, logs and headers. Boxed: only such
    /// connections pay for the room.
    TcpAs(TcpStream, Box<Addrs>),
    /// TLS after its handshake (tls.rs): a client connection on a TLS bind, or a connection
    /// to a `server ... ssl`. Boxed: rustls' state is large, and plain connections should not
    /// pay for its room.
    Tls(Box<TlsStream>),
    /// In-process tests (mem.rs).
    Mem(MemStream),
}

/// A connection ringlb opened (to a server, a health check): accepted ones get TCP_NODELAY
/// from their listener instead (`Stream::accepted`).
impl From<TcpStream> for Stream {
    fn from(s: TcpStream) -> Self {
        // Small heads and responses must leave at once; Nagle would hold them back for an ACK.
        let _ = s.set_nodelay(true);
        Stream::Tcp(s)
    }
}

// SAFETY: reads and writes of each variant touch disjoint state (a socket's two directions,
// or two separate pipes), so the two halves of `into_split` never race.
unsafe impl Split for Stream {}

impl Stream {
    /// Two connected in-memory ends, the first at address `a`, the second at `b`.
    pub fn pair(a: SocketAddr, b: SocketAddr) -> (Stream, Stream) {
        let (a, b) = MemStream::pair(a, b);
        (Stream::Mem(a), Stream::Mem(b))
    }

    /// A client connection just accepted, with both its addresses looked up now: monoio keeps
    /// them in the stream, so the connection state need not hold a copy (64 bytes per idle
    /// client). `None`: the connection is already gone (reset before it was served).
    /// TCP_NODELAY came with it from the listener (`net::set_accepted_nodelay`).
    pub fn accepted(s: TcpStream) -> Option<Stream> {
        s.local_addr().ok()?;
        s.peer_addr().ok()?;
        Some(Stream::Tcp(s))
    }

    /// `accepted`, with the addresses a PROXY header gave (`None`: the socket's own).
    pub fn accepted_as(s: TcpStream, addrs: Option<Addrs>) -> Option<Stream> {
        match addrs {
            None => Self::accepted(s),
            Some(a) => {
                let _ = s.set_nodelay(true);
                Some(Stream::TcpAs(s, Box::new(a)))
            }
        }
    }

    /// `accepted`, then the server side of a TLS handshake within `limit` (`timeout client`).
    /// On failure the connection is closed, as HAProxy does, after the alert rustls chose,
    /// if any; the client's address comes with the error, for the log.
    pub async fn accepted_tls(
        s: TcpStream,
        configs: &BindConfig,
        limit: Option<Duration>,
        proxied: Option<Addrs>,
    ) -> Result<Stream, (HandshakeFail, SocketAddr)> {
        let peer = match (s.local_addr(), s.peer_addr()) {
            (Ok(_), Ok(peer)) => proxied.map_or(peer, |a| a.src),
            _ => return Err((HandshakeFail::Gone, UNKNOWN)),
        };
        match TlsStream::accept(s, configs, limit).await {
            Ok(mut tls) => {
                tls.set_proxied(proxied);
                Ok(Stream::Tls(Box::new(tls)))
            }
            Err(e) => Err((e, peer)),
        }
    }

    /// How long the TLS handshake took (zero without TLS): the record's `Th`.
    pub fn handshake_time(&self) -> Duration {
        match self {
            Stream::Tls(t) => t.handshake_time(),
            Stream::Tcp(_) | Stream::TcpAs(..) | Stream::Mem(_) => Duration::ZERO,
        }
    }

    /// The SNI a TLS connection to a server sent (`None` on any other stream).
    pub fn tls_sni(&self) -> Option<&str> {
        match self {
            Stream::Tls(t) => t.sni(),
            Stream::Tcp(_) | Stream::TcpAs(..) | Stream::Mem(_) => None,
        }
    }

    /// What the TLS handshake settled, on a TLS connection.
    pub fn tls_facts(&self) -> Option<&ConnFacts> {
        match self {
            Stream::Tls(t) => Some(t.facts()),
            Stream::Tcp(_) | Stream::TcpAs(..) | Stream::Mem(_) => None,
        }
    }

    /// The address of this end (cached: see `accepted`).
    pub fn local_addr(&self) -> SocketAddr {
        match self {
            Stream::Tcp(s) => s.local_addr().unwrap_or(UNKNOWN),
            Stream::TcpAs(_, a) => a.dst,
            Stream::Tls(t) => match t.proxied() {
                Some(a) => a.dst,
                None => t.tcp().local_addr().unwrap_or(UNKNOWN),
            },
            Stream::Mem(m) => m.local_addr(),
        }
    }

    /// The address of the other end (cached: see `accepted`).
    pub fn peer_addr(&self) -> SocketAddr {
        match self {
            Stream::Tcp(s) => s.peer_addr().unwrap_or(UNKNOWN),
            Stream::TcpAs(_, a) => a.src,
            Stream::Tls(t) => match t.proxied() {
                Some(a) => a.src,
                None => t.tcp().peer_addr().unwrap_or(UNKNOWN),
            },
            Stream::Mem(m) => m.peer_addr(),
        }
    }

    /// Waits until a read would not wait (data, or the end of the stream). `relaxed`: see
    /// monoio's `TcpStream::readable` (on the legacy driver it may report stale readiness).
    pub async fn readable(&self, relaxed: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) | Stream::TcpAs(s, _) => s.readable(relaxed).await,
            Stream::Tls(t) => t.readable(relaxed).await,
            Stream::Mem(m) => m.readable().await,
        }
    }

    /// True when bytes (or the end of the stream) are waiting: for TCP a non-blocking peek,
    /// one cheap syscall that spares a readiness round-trip when the client spoke first.
    pub fn has_pending_data(&self) -> bool {
        match self {
            Stream::Tcp(s) | Stream::TcpAs(s, _) => peek(s.as_raw_fd()) >= 0,
            Stream::Tls(t) => t.has_buffered() || peek(t.tcp().as_raw_fd()) >= 0,
            Stream::Mem(m) => m.has_pending_data(),
        }
    }

    /// True when the peer has neither closed nor sent anything since the last exchange: the
    /// only state in which a server connection may carry another request. On TLS, records
    /// without data that came meanwhile (session tickets) are taken in, hence `&mut`.
    pub fn is_clean(&mut self) -> bool {
        match self {
            Stream::Tcp(s) | Stream::TcpAs(s, _) => nothing_to_peek(s),
            Stream::Tls(t) => t.is_clean_idle(),
            Stream::Mem(m) => !m.has_pending_data(),
        }
    }

    /// Closes with a reset (SO_LINGER 0 for TCP): no TIME_WAIT left behind by idle server
    /// connections the proxy gives up.
    pub fn discard(self) {
        match &self {
            Stream::Tcp(s) | Stream::TcpAs(s, _) => set_linger_zero(s.as_raw_fd()),
            Stream::Tls(t) => set_linger_zero(t.tcp().as_raw_fd()),
            Stream::Mem(_) => {}
        }
    }

    /// `silent-drop`: closes without telling the peer, as HAProxy does: TCP_REPAIR where the
    /// process may use it (the socket then goes without FIN or RST), else a reset sent with a
    /// TTL of 1 so that it dies on the way (on loopback it still arrives).
    pub fn silent_drop(self) {
        let fd = match &self {
            Stream::Tcp(s) | Stream::TcpAs(s, _) => s.as_raw_fd(),
            Stream::Tls(t) => t.tcp().as_raw_fd(),
            Stream::Mem(_) => return,
        };
        let one: libc::c_int = 1;
        let set = |level, opt| {
            // SAFETY: setsockopt on a socket we own, with a correctly sized int.
            unsafe {
                libc::setsockopt(
                    fd,
                    level,
                    opt,
                    (&one as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            }
        };
        if set(libc::SOL_TCP, libc::TCP_REPAIR) != 0 {
            set(libc::IPPROTO_IP, libc::IP_TTL);
            set(libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS);
            set_linger_zero(fd);
        }
    }

    /// A handle that ends both directions of this connection from wherever it is held.
    pub fn aborter(&self) -> Aborter {
        match self {
            Stream::Tcp(s) | Stream::TcpAs(s, _) => Aborter::Fd(s.as_raw_fd()),
            Stream::Tls(t) => Aborter::Fd(t.tcp().as_raw_fd()),
            Stream::Mem(m) => Aborter::Mem(m.abort_handle()),
        }
    }

    /// Reads into `buf` until `shed` resolves, losing nothing: on TCP the read is cancelled and
    /// then awaited, so bytes that arrived at that very moment are kept (on io_uring a
    /// cancelled read may still complete). `None`: `shed` came first and nothing was read.
    pub async fn read_or_shed<T: IoBufMut>(
        &mut self,
        buf: T,
        shed: impl Future<Output = ()>,
    ) -> (Option<io::Result<usize>>, T) {
        match self {
            Stream::Tcp(s) | Stream::TcpAs(s, _) => tcp_read_or_shed(s, buf, shed).await,
            // Nothing is read before the bytes are there: giving up loses none.
            Stream::Tls(_) | Stream::Mem(_) => {
                let shed_first = monoio::select! {
                    r = self.readable(false) => match r {
                        Ok(()) => false,
                        Err(e) => return (Some(Err(e)), buf),
                    },
                    _ = shed => true,
                };
                if shed_first {
                    return (None, buf);
                }
                let (r, buf) = self.read(buf).await;
                (Some(r), buf)
            }
        }
    }
}

async fn tcp_read_or_shed<T: IoBufMut>(
    s: &mut TcpStream,
    buf: T,
    shed: impl Future<Output = ()>,
) -> (Option<io::Result<usize>>, T) {
    let canceller = Canceller::new();
    let mut read = std::pin::pin!(s.cancelable_read(buf, canceller.handle()));
    let finished = monoio::select! {
        r = &mut read => Some(r),
        _ = shed => None,
    };
    let shed_first = finished.is_none();
    let (res, buf) = match finished {
        Some(r) => r,
        None => {
            let _ = canceller.cancel();
            read.await
        }
    };
    match res {
        Err(e) if shed_first && e.raw_os_error() == Some(libc::ECANCELED) => (None, buf),
        r => (Some(r), buf),
    }
}

/// Ends both directions of a connection: a reset or timeout on one side of a relay means the
/// relay is over, and the other direction's pending read must return rather than wait forever.
pub enum Aborter {
    Fd(RawFd),
    Mem(MemAbort),
}

impl Aborter {
    pub fn abort(&self) {
        match self {
            // SAFETY: the descriptor belongs to a stream its owner keeps alive while it holds
            // this aborter (the relay's halves); shutdown does not close it.
            Aborter::Fd(fd) => unsafe {
                libc::shutdown(*fd, libc::SHUT_RDWR);
            },
            Aborter::Mem(m) => m.abort(),
        }
    }
}

/// True when a peek finds nothing waiting and the peer has not closed.
fn nothing_to_peek(s: &TcpStream) -> bool {
    peek(s.as_raw_fd()) < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
}

/// A one-byte non-blocking peek: >= 0 when data or the end of the stream waits.
fn peek(fd: RawFd) -> isize {
    let mut byte = 0u8;
    // SAFETY: recv into one valid local byte on a socket we own; MSG_PEEK leaves it in place.
    unsafe {
        libc::recv(
            fd,
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    }
}

fn set_linger_zero(fd: RawFd) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a socket we own, with a correctly sized `linger` value.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

impl AsyncReadRent for Stream {
    async fn read<T: IoBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            Stream::Tcp(s) | Stream::TcpAs(s, _) => s.read(buf).await,
            Stream::Tls(t) => t.read(buf).await,
            Stream::Mem(m) => m.read(buf).await,
        }
    }

    async fn readv<T: IoVecBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            Stream::Tcp(s) | Stream::TcpAs(s, _) => s.readv(buf).await,
            Stream::Tls(_) => (Err(io::ErrorKind::Unsupported.into()), buf),
            Stream::Mem(m) => m.readv(buf).await,
        }
    }
}

impl AsyncWriteRent for Stream {
    async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            Stream::Tcp(s) | Stream::TcpAs(s, _) => s.write(buf).await,
            Stream::Tls(t) => t.write(buf).await,
            Stream::Mem(m) => m.write(buf),
        }
    }

    async fn writev<T: IoVecBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            Stream::Tcp(s) | Stream::TcpAs(s, _) => s.writev(buf).await,
            Stream::Tls(_) => (Err(io::ErrorKind::Unsupported.into()), buf),
            Stream::Mem(m) => m.writev(buf),
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) | Stream::TcpAs(s, _) => s.flush().await,
            Stream::Tls(_) | Stream::Mem(_) => Ok(()),
        }
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) | Stream::TcpAs(s, _) => s.shutdown().await,
            Stream::Tls(t) => t.shutdown().await,
            Stream::Mem(m) => {
                m.shutdown_write();
                Ok(())
            }
        }
    }
}
