//! TLS over a TCP stream: rustls' buffered connection driven with monoio's owned buffers, on
//! both drivers. One type for both sides: a client connection accepted on a TLS bind (rustls'
//! `ServerConnection`, `accept`) and a connection to a `server ... ssl` (its
//! `ClientConnection`, `connect`). Past the handshake both are a `rustls::Connection`, and
//! reads, writes, the idle checks and the shutdown do not care which.
//!
//! Why the buffered connection and not rustls' unbuffered API: the buffered one costs one copy
//! of the plaintext (rustls' buffer -> the caller's), which next to AES-GCM and the syscalls is
//! small, and it keeps the record layer (partial records, several records per read, alerts,
//! key updates) inside rustls. Ciphertext moves through two buffers owned here (`incoming`,
//! `outgoing`), handed to the kernel by value as monoio requires.
//!
//! Reads and writes never hold a borrow of the rustls state across an await: the relay's two
//! halves (tcp.rs) may use one stream from two tasks. Only the writing side writes ciphertext
//! to the socket once the handshake is over, so records never interleave; what the reading
//! side makes rustls want to send (a key update) goes with the next write.

use super::proxy_proto::Addrs;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::time::Duration;

use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use monoio::BufResult;
use rustls::client::ClientConfig;
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, Connection};
use std::sync::Arc;

use crate::io::timed;
use crate::tls::accept::{Accepting, Progress};
use crate::tls::facts::ConnFacts;
use crate::tls::server_config::BindConfig;

/// Room for one TLS record (16 KiB of payload plus its header and AEAD overhead) and more.
const CIPHERTEXT_BUF: usize = 18 * 1024;

pub struct TlsStream {
    tcp: TcpStream,
    conn: Box<Connection>,
    /// Ciphertext read from the socket; `incoming[in_start..]` is not yet given to rustls
    /// (its plaintext buffer was full).
    incoming: Vec<u8>,
    in_start: usize,
    /// Ciphertext being written (kept for its capacity).
    outgoing: Vec<u8>,
    /// A write of ciphertext is in flight (the other half of a relay must not start one).
    writing: bool,
    facts: ConnFacts,
    /// How long the handshake took, from the accept (the record's `Th`).
    handshake: Duration,
    /// The SNI sent, on a connection to a server (idle connections are reused only for the
    /// same name, as HAProxy's connection hash includes it).
    sni: Option<Box<str>>,
    /// The client's addresses from a PROXY protocol header (`accept-proxy`), if it named any.
    proxied: Option<Addrs>,
}

/// Why a handshake did not complete.
#[derive(Debug)]
pub enum HandshakeFail {
    /// Gone before the handshake started (the addresses could not be read).
    Gone,
    /// Not within the limit (`timeout client`; `timeout connect` to a server).
    Timeout,
    /// The client closed, or the socket failed.
    Io(io::Error),
    /// Not TLS, or refused by rustls (no shared version, suite or certificate...).
    Tls(rustls::Error),
}

impl TlsStream {
    /// Runs the server side of a handshake on an accepted connection, within `limit`.
    pub async fn accept(
        tcp: TcpStream,
        configs: &BindConfig,
        limit: Option<Duration>,
    ) -> Result<TlsStream, HandshakeFail> {
        let start = std::time::Instant::now();
        let mut s = match timed(limit, Self::handshake(tcp, configs)).await {
            Ok(r) => r?,
            Err(_) => return Err(HandshakeFail::Timeout),
        };
        s.handshake = start.elapsed();
        Ok(s)
    }

    async fn handshake(
        mut tcp: TcpStream,
        configs: &BindConfig,
    ) -> Result<TlsStream, HandshakeFail> {
        let mut accepting = Accepting::new(configs);
        let mut incoming = Vec::with_capacity(CIPHERTEXT_BUF);
        let (conn, rest) = loop {
            incoming.clear();
            let (r, buf) = tcp.read(incoming).await;
            incoming = buf;
            match r {
                Ok(0) => return Err(HandshakeFail::Io(io::ErrorKind::UnexpectedEof.into())),
                Ok(_) => {}
                Err(e) => return Err(HandshakeFail::Io(e)),
            }
            let mut bytes = incoming.as_slice();
            match accepting.feed(&mut bytes) {
                Ok(Progress::NeedMore) => {}
                Ok(Progress::Ready(conn)) => break (conn, incoming.len() - bytes.len()),
                Err(refused) => {
                    if !refused.alert.is_empty() {
                        let _ = tcp.write_all(refused.alert).await;
                    }
                    return Err(HandshakeFail::Tls(refused.error));
                }
            }
        };
        let mut s = TlsStream::new(tcp, Connection::Server(*conn), incoming, rest, None);
        s.finish_handshake().await?;
        if let Connection::Server(server) = &*s.conn {
            s.facts = ConnFacts::of(server);
        }
        Ok(s)
    }

    fn new(
        tcp: TcpStream,
        conn: Connection,
        incoming: Vec<u8>,
        in_start: usize,
        sni: Option<Box<str>>,
    ) -> TlsStream {
        TlsStream {
            tcp,
            conn: Box::new(conn),
            incoming,
            in_start,
            outgoing: Vec::with_capacity(CIPHERTEXT_BUF),
            writing: false,
            facts: ConnFacts::default(),
            handshake: Duration::ZERO,
            sni,
            proxied: None,
        }
    }

    /// The addresses a PROXY header gave this client connection, if any.
    pub fn proxied(&self) -> Option<&Addrs> {
        self.proxied.as_ref()
    }

    pub fn set_proxied(&mut self, a: Option<Addrs>) {
        self.proxied = a;
    }

    /// Runs the client side of a handshake on a connection to a server. `sni`: the name to
    /// send and check (see tls/client_config.rs); `None` sends none. The caller bounds it
    /// (`timeout connect` covers the connect and the handshake, as in HAProxy).
    pub async fn connect(
        tcp: TcpStream,
        config: &Arc<ClientConfig>,
        sni: Option<ServerName<'static>>,
    ) -> Result<TlsStream, HandshakeFail> {
        let sent = match &sni {
            Some(ServerName::DnsName(d)) => Some(Box::from(d.as_ref())),
            _ => None,
        };
        // No name: the server's address stands for "none" (rustls sends no SNI for one).
        let name = match sni {
            Some(n) => n,
            None => match tcp.peer_addr() {
                Ok(a) => ServerName::IpAddress(a.ip().into()),
                Err(e) => return Err(HandshakeFail::Io(e)),
            },
        };
        let conn = ClientConnection::new(Arc::clone(config), name).map_err(HandshakeFail::Tls)?;
        let incoming = Vec::with_capacity(CIPHERTEXT_BUF);
        let mut s = TlsStream::new(tcp, Connection::Client(conn), incoming, 0, sent);
        s.finish_handshake().await?;
        Ok(s)
    }

    /// The SNI this connection to a server sent, if any.
    pub fn sni(&self) -> Option<&str> {
        self.sni.as_deref()
    }

    /// The ALPN protocol the handshake settled on.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    /// Whether an idle connection is still fit for another request: nothing buffered, the
    /// peer still there. Records that arrived while idle and carry no data (TLS 1.3 session
    /// tickets, key updates) are taken in first, without waiting: they must not make a healthy
    /// connection look dirty, while any plaintext or a close_notify makes it unfit.
    pub fn is_clean_idle(&mut self) -> bool {
        if self.has_buffered() {
            return false;
        }
        loop {
            let mut chunk = [0u8; 4096];
            // SAFETY: a non-blocking recv into a local buffer on a socket this stream owns.
            let n = unsafe {
                libc::recv(
                    self.tcp.as_raw_fd(),
                    chunk.as_mut_ptr().cast(),
                    chunk.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n < 0 {
                return io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock;
            }
            let Some(got) = chunk.get(..n as usize).filter(|g| !g.is_empty()) else {
                return false; // the peer closed
            };
            self.incoming.clear();
            self.in_start = 0;
            self.incoming.extend_from_slice(got);
            if self.feed_rustls().is_err() || self.has_buffered() {
                return false;
            }
            // Whatever rustls wants to answer (a key update) goes with the next write.
        }
    }

    async fn finish_handshake(&mut self) -> Result<(), HandshakeFail> {
        loop {
            if self.conn.wants_write() {
                self.send_ciphertext().await.map_err(HandshakeFail::Io)?;
            }
            if !self.conn.is_handshaking() {
                return Ok(());
            }
            match self.receive_ciphertext().await {
                Ok(true) => {}
                Ok(false) => return Err(HandshakeFail::Io(io::ErrorKind::UnexpectedEof.into())),
                Err(Fail::Io(e)) => return Err(HandshakeFail::Io(e)),
                Err(Fail::Tls(e)) => {
                    // rustls queued an alert saying why: best effort.
                    let _ = self.send_ciphertext().await;
                    return Err(HandshakeFail::Tls(e));
                }
            }
        }
    }

    /// What the handshake settled (for the `ssl_fc_*` / `ssl_c_*` fetches).
    pub fn facts(&self) -> &ConnFacts {
        &self.facts
    }

    /// How long the handshake took.
    pub fn handshake_time(&self) -> Duration {
        self.handshake
    }

    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Plaintext, or ciphertext not yet decrypted, is waiting here (no socket read needed).
    /// rustls stops wanting to read while plaintext waits for the reader, or once the client
    /// said close_notify (the next read returns the end of the stream).
    pub fn has_buffered(&self) -> bool {
        self.in_start < self.incoming.len() || !self.conn.wants_read()
    }

    /// Gives rustls the ciphertext kept back, then reads more from the socket. `Ok(false)`:
    /// the socket reached its end.
    async fn receive_ciphertext(&mut self) -> Result<bool, Fail> {
        if self.in_start >= self.incoming.len() {
            self.incoming.clear();
            self.in_start = 0;
            let buf = std::mem::take(&mut self.incoming);
            let (r, buf) = self.tcp.read(buf).await;
            self.incoming = buf;
            if r.map_err(Fail::Io)? == 0 {
                // Tells rustls the transport ended (a close without close_notify).
                let _ = self.conn.read_tls(&mut io::empty());
                return Ok(false);
            }
        }
        self.feed_rustls()?;
        Ok(true)
    }

    /// Hands rustls what it will take of `incoming`, decrypting as it goes.
    fn feed_rustls(&mut self) -> Result<(), Fail> {
        while self.in_start < self.incoming.len() {
            let mut rest = self.incoming.get(self.in_start..).unwrap_or(&[]);
            let before = rest.len();
            match self.conn.read_tls(&mut rest) {
                Ok(n) if n > 0 => self.in_start += before - rest.len(),
                // rustls' plaintext buffer is full: the rest waits for the reader.
                Ok(_) | Err(_) => break,
            }
            self.conn.process_new_packets().map_err(Fail::Tls)?;
        }
        self.conn.process_new_packets().map_err(Fail::Tls)?;
        Ok(())
    }

    /// Writes out every record rustls has queued.
    async fn send_ciphertext(&mut self) -> io::Result<()> {
        self.writing = true;
        let r = self.send_queued().await;
        self.writing = false;
        r
    }

    async fn send_queued(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            let mut out = std::mem::take(&mut self.outgoing);
            out.clear();
            while self.conn.wants_write() && out.len() < CIPHERTEXT_BUF * 4 {
                self.conn.write_tls(&mut out)?;
            }
            let (r, out) = self.tcp.write_all(out).await;
            self.outgoing = out;
            r?;
        }
        Ok(())
    }

    /// Waits until a read would find something: buffered bytes, or the socket readable.
    pub async fn readable(&self, relaxed: bool) -> io::Result<()> {
        if self.has_buffered() {
            return Ok(());
        }
        self.tcp.readable(relaxed).await
    }

    pub async fn read<T: IoBufMut>(&mut self, mut buf: T) -> BufResult<usize, T> {
        loop {
            // SAFETY: rustls only writes into the slice (the caller's spare capacity); the
            // bytes it reports are initialised before `set_init` says so.
            let dst = unsafe { std::slice::from_raw_parts_mut(buf.write_ptr(), buf.bytes_total()) };
            match self.conn.reader().read(dst) {
                Ok(n) => {
                    // SAFETY: rustls wrote `n` bytes.
                    unsafe { buf.set_init(n) };
                    return (Ok(n), buf);
                }
                // The client closed without close_notify: for HTTP, the end of the stream.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return (Ok(0), buf),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return (Err(e), buf),
            }
            match self.receive_ciphertext().await {
                Ok(_) => {}
                Err(Fail::Io(e)) => return (Err(e), buf),
                Err(Fail::Tls(e)) => {
                    if !self.writing {
                        let _ = self.send_ciphertext().await;
                    }
                    return (Err(io::Error::new(io::ErrorKind::InvalidData, e)), buf);
                }
            }
        }
    }

    pub async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        // SAFETY: `read_ptr` is valid for `bytes_init` bytes while `buf` is alive.
        let src = unsafe { std::slice::from_raw_parts(buf.read_ptr(), buf.bytes_init()) };
        let n = match self.conn.writer().write(src) {
            Ok(n) => n,
            Err(e) => return (Err(e), buf),
        };
        match self.send_ciphertext().await {
            Ok(()) => (Ok(n), buf),
            Err(e) => (Err(e), buf),
        }
    }

    /// Sends close_notify, then shuts the socket's write side.
    pub async fn shutdown(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        self.send_ciphertext().await?;
        self.tcp.shutdown().await
    }
}

impl HandshakeFail {
    /// HAProxy 2.6's words for it in its connection error log line.
    pub fn haproxy_message(&self) -> &'static str {
        match self {
            HandshakeFail::Timeout => "Timeout during SSL handshake",
            HandshakeFail::Gone | HandshakeFail::Io(_) => "Connection closed during SSL handshake",
            HandshakeFail::Tls(_) => "SSL handshake failure",
        }
    }
}

enum Fail {
    Io(io::Error),
    Tls(rustls::Error),
}
