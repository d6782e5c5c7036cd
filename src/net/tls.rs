//! TLS over a TCP stream: rustls' buffered `ServerConnection` driven with monoio's owned
//! buffers, on both drivers.
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

use std::io::{self, Read, Write};
use std::time::Duration;

use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use monoio::BufResult;
use rustls::ServerConnection;

use crate::io::timed;
use crate::tls::accept::{Accepting, Progress};
use crate::tls::facts::ConnFacts;
use crate::tls::server_config::BindConfig;

/// Room for one TLS record (16 KiB of payload plus its header and AEAD overhead) and more.
const CIPHERTEXT_BUF: usize = 18 * 1024;

pub struct TlsStream {
    tcp: TcpStream,
    conn: Box<ServerConnection>,
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
}

/// Why a handshake did not complete.
#[derive(Debug)]
pub enum HandshakeFail {
    /// Gone before the handshake started (the addresses could not be read).
    Gone,
    /// Not within the limit (`timeout client`).
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
        let mut s = TlsStream {
            tcp,
            conn,
            incoming,
            in_start: rest,
            outgoing: Vec::with_capacity(CIPHERTEXT_BUF),
            writing: false,
            facts: ConnFacts::default(),
            handshake: Duration::ZERO,
        };
        s.finish_handshake().await?;
        s.facts = ConnFacts::of(&s.conn);
        Ok(s)
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
